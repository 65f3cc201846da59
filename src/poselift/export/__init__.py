"""3D poses out: files and live streams for other tools. Modules:

- world: camera-frame poses -> a Y-up world with the floor at y = 0
- rig: a clean animation skeleton (fixed bone lengths, T-pose rest, naming schemes)
- rotations: joint rotations solved from joint positions (Euler maths in `poselift.geometry`)
- bvh_writer: BVH animation files
- viewer: viewer.html (self-contained page; `window.poselift` hook; the live viewer's page too)
- filters: the One-Euro filter for live poses
- osc, vmc: VMC over OSC/UDP; websocket: JSON to the live viewer
- onnx: ONNX export of a lifting network
"""
