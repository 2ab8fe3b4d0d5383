"""The Pusher: a blessed model into the serving base path, whole, in one rename."""
