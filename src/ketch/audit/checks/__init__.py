"""The checks of `ketch audit`, one kind of finding each (model.Check), each a pure function of the
pieces it is shown.

    sourcemaps.py     external, inline and indexed source maps; their original sources handed on
      mapfile.py, maplayout.py       reading a map; which source paths disclose internal layout
    secrets.py        credentials in well-known formats, then high-entropy values under secret-like names
      secret_hits.py    where the well-known formats (security.credential_formats) occur in a buffer
      secret_guess.py   high-entropy values assigned to secret-like names
      placeholders.py   example and placeholder values, ranked low
      anchors.py        many literal keywords found in a few C-speed passes
      hit.py            one occurrence, before it becomes a Finding
    flags.py          flag names and internal-user gates (flag_idioms.py: ten flag systems' idioms)
    internal.py       internal hostnames, private addresses, build-machine home folders
    weights.py        model weights by magic and structure (gguf.py, weightformats.py), large binaries (sniff.py)
    hygiene.py        files that should not ship (hygienerules.py), links that leave the artifact
"""
