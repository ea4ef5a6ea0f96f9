"""Small pieces shared by the apps; its one model counts rate-limited attempts."""
