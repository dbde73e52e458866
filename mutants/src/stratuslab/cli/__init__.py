"""The `stratus` command-line client.  Talks to the server over HTTP; never imports drivers,
persistence or settings."""
