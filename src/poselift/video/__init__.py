"""Video in, 3D out: decoding, 2D keypoints (detector or imported files), tracking, gap filling,
global trajectory and floor, rendering. The entry point is
`poselift.video.pipeline.process_video`; modules:

- decode: PyAV decoding (streamed frames, real timestamps, rotation metadata)
- layouts: detector joint layouts and their conversion to Human3.6M's 17 joints
- keypoint_files: COCO / AlphaPose / OpenPose / VideoPose3D / our npz importers
- detector: MediaPipe BlazePose (optional extra `poselift[detect]`)
- tracking: people followed across frames, main-person choice
- gaps: interpolation of short gaps, flags for joints never seen
- resample: video timestamps <-> the model's frame rate
- trajectory: root translation per frame, smoothing, floor plane and world frame
- render: render.mp4 (frame + 2D skeleton beside a 3D view)
- synthetic: a procedural walking figure seen by a known camera (demo and tests)
"""
