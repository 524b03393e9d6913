from twilio.rest import Client

TWILIO_ACCOUNT = "AC" + "0" * 32
TWILIO_AUTH_TOKEN = "@@twilio-auth-token@@"
client = Client(TWILIO_ACCOUNT, TWILIO_AUTH_TOKEN)
