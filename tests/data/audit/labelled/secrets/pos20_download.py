from huggingface_hub import snapshot_download

snapshot_download("acme/internal-model", token="@@huggingface-token@@")
