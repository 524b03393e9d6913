import anthropic

client = anthropic.Anthropic(api_key="@@anthropic-api-key@@")
