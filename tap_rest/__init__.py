"""tap-rest: a Singer tap for REST APIs, built on the Meltano Singer SDK."""
