"""GIMP-side glue of the impasto plug-in: arguments, pixels, dialog."""
