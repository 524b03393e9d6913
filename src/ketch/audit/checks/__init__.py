"""The checks of `ketch audit`, one kind of finding each (model.Check).

    secrets.py        credentials in well-known formats, then high-entropy values under secret-like names
    secret_hits.py    where the well-known formats occur in a buffer (keyword prefilter, regex near hits)
    secret_guess.py   high-entropy values assigned to secret-like names
    placeholders.py   example and placeholder values, ranked low
"""
