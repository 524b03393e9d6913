"""The checks of `ketch audit`, one kind of finding each (model.Check).

    secrets.py        credentials in well-known formats, then high-entropy values under secret-like names
    secret_hits.py    where the well-known formats (security.credential_formats) occur in a buffer
    secret_guess.py   high-entropy values assigned to secret-like names
    placeholders.py   example and placeholder values, ranked low
    anchors.py        many literal keywords found in a few C-speed passes
    hit.py            one occurrence, before it becomes a Finding
"""
