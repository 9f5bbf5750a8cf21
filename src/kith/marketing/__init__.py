"""The email-marketing platform: subscribers, folders, target groups, mailings, campaigns."""
