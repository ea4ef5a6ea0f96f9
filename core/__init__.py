"""Small pieces shared by the apps, with no models of their own."""
