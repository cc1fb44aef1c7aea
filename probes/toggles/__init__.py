"""Feature flag providers (Unleash, LaunchDarkly, flagd): what changed, and how to switch it off."""
