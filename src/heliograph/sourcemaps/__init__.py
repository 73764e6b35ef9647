"""JavaScript source maps: uploads from ``sentry-cli`` and resolving minified frames.

``bundle`` reads an uploaded artifact bundle, ``assemble`` turns uploaded
chunks into a stored bundle, ``resolve`` maps minified frames back to the
original source. See ``docs/sourcemaps.md``.
"""
