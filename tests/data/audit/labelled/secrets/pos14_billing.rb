require "stripe"
Stripe.api_key = "@@stripe-secret-key@@"
