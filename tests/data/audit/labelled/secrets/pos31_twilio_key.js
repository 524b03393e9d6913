const twilio = require("twilio");
const client = twilio("@@twilio-api-key@@", process.env.TWILIO_SECRET, { accountSid: sid });
