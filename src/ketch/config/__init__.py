"""Settings: data only: settings layers and the policy they add up to, the model and provider tables.

It imports nothing of ketch but the Words (conversation, errors, atomic_write).

    models.py         The shipped model registry: which provider serves a model, its limits, and its prices
    policy.py         The merge: every settings layer read and added up to the policy of one session
    project_store.py  What the person chose to "always allow" in one project, kept in ketch's own folder
    providers.py      The providers ketch speaks to, and the environment variables that configure each: ...
    settings.py       Settings layers: where each settings file is, and reading one file into a LayerSettings
    settings_keys.py  Which keys a settings file may hold, and what to say about one that means nothing
"""
