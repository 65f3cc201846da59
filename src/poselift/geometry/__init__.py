"""The ground floor of geometry that data, export, inference and video share.

- `quaternions`: (w, x, y, z) quaternions, cross products;
- `euler`: rotations about one axis, intrinsic Euler angles <-> matrices (gimbal lock handled), continuous
  Euler curves;
- `frames`: unit vectors and orthonormal frames built from an aim and a reference direction;
- `kinematics`: forward kinematics over a parent list;
- `resample`: linear resampling in time (at any timestamps, or from one frame rate to another).

Nothing here imports from poselift beyond `poselift.errors`.
"""
