import requests

WEBHOOK = "@@slack-webhook@@"

def alert(text):
    requests.post(WEBHOOK, json={"text": text}, timeout=5)
