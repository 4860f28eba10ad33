"""Simulcast: the program copied to up to five RTMP(S) destinations (YouTube, Facebook,
Twitch or any server) while the show is live.

- `keybox.py` seals destination stream keys (Fernet, under SIMULCAST_KEY_SECRET);
- `services.py` staff's changes (checked against the outbound rules, at most five per event)
  and the supervisor's state reports, leases and the show's resets;
- `selectors.py` what staff see, and what a supervisor should run;
- `runner.py` one supervised ffmpeg per destination (`-c copy` to FLV), run by
  `manage.py transcoder` beside its ladder runners.
"""
