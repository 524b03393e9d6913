Gitlab.configure do |config|
  config.endpoint = "https://gitlab.acme-corp.net/api/v4"
  config.private_token = "@@gitlab-token@@"
end
