"""The checks of `ketch audit`: each one kind of finding, each a pure function of the pieces it is shown."""
