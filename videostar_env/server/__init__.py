"""The env server: sessions of a videostar env over HTTP for trainers outside Python or Ray (`videostar serve`),
and RemoteVideoEnv, the Gymnasium env that plays one of its sessions (`gym.make("videostar/Remote-v0", url=...)`).

The server needs the `serve` extra (fastapi, uvicorn, httpx): pip install -e ".[serve]".
"""
