"""The Slack face of Switchboard: a slack-bolt AsyncApp over the conversation core."""
