"""Pure codecs: no I/O and no imports from the rest of kvitt."""
