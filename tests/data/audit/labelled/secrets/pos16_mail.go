package mail

import "github.com/sendgrid/sendgrid-go"

var client = sendgrid.NewSendClient("@@sendgrid-api-key@@")
