from github import Github

client = Github("@@github-fine-grained-token@@")
repo = client.get_repo("acme/infra")
