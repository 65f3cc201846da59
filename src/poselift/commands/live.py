"""`poselift live`: real-time 3D poses from a camera, video, stream or 2D keypoints on stdin, sent to avatars."""

from __future__ import annotations

import argparse

from poselift.commands import FPS, ranged

HELP = "live 3D poses from a webcam, video, stream or JSON keypoints on stdin; send over VMC/WebSocket"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True,
                        help="camera index (0), video file, stream URL (rtsp://, http://), or - for JSON lines "
                             'on stdin: {"keypoints": [[x, y] x 17], "width": W, "height": H} (pixels; without '
                             "width/height: normalised screen coordinates)")
    parser.add_argument("--model", default=None,
                        help="causal model: shipped name or weights file (default: the default causal model)")
    parser.add_argument("--vmc", metavar="HOST:PORT", default=None,
                        help="send VMC protocol (OSC over UDP) to a Marionette, e.g. 127.0.0.1:39539")
    parser.add_argument("--ws", metavar="HOST:PORT", default=None,
                        help="serve poses over WebSocket (and the live viewer at http://HOST:PORT/), "
                             "e.g. 127.0.0.1:8765")
    parser.add_argument("--ws-allow-remote", action="store_true",
                        help="let --ws bind an address other than loopback (anyone on that network can then watch)")
    parser.add_argument("--ws-allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="also accept WebSocket connections from pages of this origin (e.g. "
                             "https://example.org); loopback pages and the viewer file always are; repeatable")
    parser.add_argument("--record", metavar="OUT.bvh", default=None,
                        help="also write the session as BVH at the source's frame rate when it ends, whatever ends it")
    parser.add_argument("--smooth", action="store_true", help="One-Euro filter the 3D poses")
    parser.add_argument("--min-cutoff", type=ranged(float, above=0), default=1.0, help="One-Euro min_cutoff (Hz)")
    parser.add_argument("--beta", type=ranged(float, minimum=0), default=3.0, help="One-Euro beta (per m/s)")
    parser.add_argument("--fps", type=FPS, default=30.0, help="frame rate of stdin keypoints without times")
    parser.add_argument("--no-flip", action="store_true", help="skip flip averaging (half the lifting time)")
    parser.add_argument("--threads", type=ranged(int, minimum=1, maximum=256), default=1,
                        help="torch CPU threads; one window per frame is fastest on one thread (less contention)")
    parser.add_argument("--max-frames", type=ranged(int, minimum=1), default=None, help="stop after this many frames")
    parser.add_argument("--latency-json", metavar="FILE", default=None, help="write the latency summary as JSON")


def run(args: argparse.Namespace) -> int:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, args.threads))
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)


MAX_WARNINGS = 10
"""Bad input lines reported one by one; later ones are only counted (in the latency table)."""


def _terminate_as_interrupt():
    """Make SIGTERM end the session as Ctrl-C does (so the recording and latencies are written); returns the undo."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: signals cannot be handled here
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from poselift.errors import InputError
    from poselift.inference import Lifter
    from poselift.live import LiveSession, keypoint_lines, run_live, video_keypoints

    if args.record and Path(args.record).is_dir():
        raise InputError(args.record, "is a folder: --record names the .bvh file to write")
    model = args.model
    if model is None:
        from poselift.models.registry import DEFAULT_CAUSAL_MODEL

        model = DEFAULT_CAUSAL_MODEL
    lifter = Lifter(model, flip=not args.no_flip)
    stream = lifter.stream()
    fps = args.fps
    session = LiveSession()

    def skip(error: InputError) -> None:
        session.latency.skipped += 1
        if session.latency.skipped <= MAX_WARNINGS:
            more = " (further bad lines are only counted)" if session.latency.skipped == MAX_WARNINGS else ""
            print(f"live: skipped: {error}{more}", file=sys.stderr)

    if args.source == "-":
        frames = keypoint_lines(sys.stdin, fps=fps, on_bad_line=skip)
    else:
        from poselift.video.detector import INSTALL_HINT, detector_available

        if not detector_available():
            raise InputError(args.source, f"live video needs a 2D detector: {INSTALL_HINT}")
        frames = video_keypoints(args.source)

    vmc = ws = smooth = None
    failed = True
    restore_sigterm = _terminate_as_interrupt()
    try:
        if args.vmc:
            from poselift.export.vmc import VmcSender, parse_address

            vmc = VmcSender(*parse_address(args.vmc))
        if args.ws:
            from poselift.export.websocket import PoseServer, parse_server_address

            host, port = parse_server_address(args.ws)
            ws = PoseServer(host, port, allow_remote=args.ws_allow_remote, allowed_origins=args.ws_allow_origin)
            print(f"live: WebSocket on ws://{ws.url_host}:{ws.address[1]}/ "
                  f"(viewer: http://{ws.url_host}:{ws.address[1]}/)", file=sys.stderr)
        if args.smooth:
            from poselift.export.filters import OneEuroFilter

            smooth = OneEuroFilter(min_cutoff=args.min_cutoff, beta=args.beta, freq=fps)
        from poselift.video.plausibility import PersonGate

        # The built-in detector's frames pass the person check; JSON lines are the sender's own people.
        gate = None if args.source == "-" else PersonGate()
        run_live(frames, stream.push, vmc=vmc, ws=ws, smooth=smooth, record=bool(args.record), fps=fps,
                 max_frames=args.max_frames, session=session, gate=gate, reset=stream.reset)
        failed = False
    finally:
        restore_sigterm()
        if vmc is not None:
            vmc.close()
        if ws is not None:
            ws.close()
        _finish(args, session, fps, failed)
    return 0


def _finish(args: argparse.Namespace, session, fps: float, failed: bool) -> None:
    """Report the latencies and write the recording, whatever ended the session; when an error is already on
    its way out, problems here are printed instead of raised (the error stays the one reported)."""
    import json
    import sys

    from poselift.errors import InputError

    result = session.result(fps)
    print(f"live: {result.frames} frames", file=sys.stderr)
    print(result.latency.table(), file=sys.stderr)
    try:
        if args.latency_json:
            from poselift.atomic import write_text_atomic

            summary = {**result.latency.summary(), "skipped_lines": result.latency.skipped}
            write_text_atomic(args.latency_json, json.dumps(summary, indent=2) + "\n")
        if args.record:
            if result.frames < 2:
                raise InputError(args.record, f"nothing to record ({result.frames} frames)")
            from poselift.export.bvh_writer import export_bvh

            export_bvh(result.poses, args.record, fps=result.fps)
            print(f"{args.record}: {result.frames} frames recorded at {result.fps:g} fps", file=sys.stderr)
    except InputError as error:
        if not failed:
            raise
        print(f"live: {error}", file=sys.stderr)
