from nk.hookspecs import hookimpl  # noqa: F401
