"""People rendered from motion capture with exact 3D truth: a skinned CC0 body, a numpy rasteriser, scenes
of 1-3 people seen by a static phone-like camera, and the video-accuracy benchmark built on them."""
