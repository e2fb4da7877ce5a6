"""The impasto command: serve the daemon, stylize files, list methods and styles, run the demo."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

from impasto_client import DEFAULT_ADDRESS, Client, Connection, ImpastoError, StylizeEvent, TrainEvent
from impasto_client.client import Style

from . import __version__
from .config import config_dir
from .config import load as load_config
from .errors import RequestError
from .serving import logs

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input from the command line: one line on stderr, exit status 2."""


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="impasto", description="Neural style transfer for painters.")
    parser.add_argument("--version", action="version", version=f"impasto {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the daemon the editor plugins talk to")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, help="port (default 50051)")
    serve.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    serve.add_argument("--max-jobs", type=_positive, help="jobs that run at once (default 1)")
    serve.add_argument("--max-queue", type=_positive, help="jobs that may wait (default 16)")
    serve.add_argument("--store-mb", type=_positive, help="memory for uploaded images and results (default 4096)")
    serve.add_argument("--models-dir", type=Path, help="folder with your own checkpoints")
    serve.add_argument("--tls-cert", type=Path, help="TLS certificate chain (PEM), for a daemon other machines reach")
    serve.add_argument("--tls-key", type=Path, help="TLS private key (PEM)")
    serve.add_argument("--token-file", type=Path, help="require this bearer token (made by 'impasto token new')")
    serve.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    serve.add_argument("--insecure", action="store_true", help="with --allow-remote: do without TLS and a token")
    serve.add_argument("--log-format", choices=("json", "text"))
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"))

    stylize = sub.add_parser("stylize", help="stylize an image file")
    stylize.add_argument("content", help="the picture to stylize")
    stylize.add_argument(
        "--style",
        action="append",
        default=[],
        metavar="STYLE[=WEIGHT]",
        help="a style picture or built-in style id, optionally =weight; repeat to blend",
    )
    stylize.add_argument("--method", default="gatys")
    stylize.add_argument("--mask", help="selection: grey or alpha coverage, same size as the content")
    stylize.add_argument(
        "--content-labels",
        metavar="PATH",
        help="label map of the content: each flat colour a region, paired by colour with --style-labels",
    )
    stylize.add_argument(
        "--style-labels",
        action="append",
        default=[],
        metavar="PATH",
        help="label map of a style picture, in the order of --style (a style without one is used whole)",
    )
    stylize.add_argument("--preserve-color", choices=("none", "luminance", "histogram"), default="none")
    stylize.add_argument("--size", type=int, help="longest side to work at (parameter 'size')")
    stylize.add_argument("--steps", type=int, help="optimisation steps (parameter 'steps')")
    stylize.add_argument("--seed", type=int, help="random seed (parameter 'seed')")
    stylize.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any method parameter")
    stylize.add_argument("--preview-every", type=int, default=0, help=argparse.SUPPRESS)
    stylize.add_argument("-o", "--output", required=True)
    _connection_arguments(stylize)
    stylize.add_argument("--quiet", action="store_true", help="print nothing but errors")

    train = sub.add_parser("train", help="teach impasto a new real-time style from your own picture")
    train.add_argument("kind", help="what to train: cin-style, fast, adain-decoder, … (see 'impasto trainers')")
    train.add_argument("--name", default="", help="the model's name: letters, digits, '-' and '_' (decoders: none)")
    train.add_argument("--style", help="the style picture to learn from")
    train.add_argument("--photos", help="folder of photos to learn on (default: the openly licensed set)")
    train.add_argument("--steps", type=int, help="training steps (parameter 'steps')")
    train.add_argument("--size", type=int, help="side of the photo crops trained on (parameter 'size')")
    train.add_argument("--batch", type=int, help="photos per step (parameter 'batch')")
    train.add_argument("--seed", type=int, help="random seed (parameter 'seed')")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any training parameter")
    train.add_argument("--resume", action="store_true", help="go on from the run's checkpoint")
    train.add_argument("--overwrite", action="store_true", help="replace a model or unfinished run of this name")
    train.add_argument("--models-dir", type=Path, help="where models go (in-process training only)")
    _connection_arguments(train)
    train.add_argument("--quiet", action="store_true", help="print nothing but errors and the result")

    for name, helptext in (
        ("trainers", "list what impasto can train and the parameters of each"),
        ("methods", "list the methods and their parameters"),
        ("styles", "list the built-in styles"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--json", action="store_true")
        _connection_arguments(p)

    plugin = sub.add_parser("install-plugin", help="install the Krita or GIMP plugin")
    plugin.add_argument("editor", choices=("krita", "gimp"))
    plugin.add_argument("--dest", type=Path, help="plugin folder (default: the editor's user plugin folder)")
    plugin.add_argument(
        "--python-version", help="the editor's Python, e.g. 3.11 (default: read from the installed editor)"
    )
    plugin.add_argument(
        "--zip",
        type=Path,
        metavar="OUT.zip",
        help="krita: write an archive for Tools ▸ Scripts ▸ Import Python Plugin from File instead of installing",
    )
    plugin.add_argument("--platform", choices=("linux", "win32", "darwin"), help="default: this machine's")

    demo = sub.add_parser("demo", help="stylize a bundled sample photo to show what impasto does")
    demo.add_argument("-o", "--output-dir", default="impasto-demo")
    _connection_arguments(demo)

    token = sub.add_parser("token", help="make the token a remote daemon requires (see docs/remote.md)")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    new = token_sub.add_parser("new", help="write a new random token to a file only you can read")
    new.add_argument("--out", type=Path, help="where (default: the settings folder's token file)")
    new.add_argument("--force", action="store_true", help="replace an existing token file")
    return parser


def _connection_arguments(parser: argparse.ArgumentParser) -> None:
    """How a command reaches its daemon; each falls back to $IMPASTO_SERVER and the settings file (config.py)."""
    parser.add_argument(
        "--server", help=f"daemon address (default: $IMPASTO_SERVER, the settings file, {DEFAULT_ADDRESS}, in-process)"
    )
    parser.add_argument("--token-file", help="the daemon's token (a file made by 'impasto token new')")
    parser.add_argument("--tls-ca", help="CA certificate (PEM) to trust for a daemon with its own certificate")
    parser.add_argument("--tls", action="store_true", help="connect with TLS (the system's trusted CAs)")


@contextlib.contextmanager
def connect(args: argparse.Namespace, models_dir: Path | None = None) -> Iterator[Client]:
    """A client for the daemon the command names (flag, $IMPASTO_SERVER, settings file); with none named, the default
    daemon or, if none runs (or `models_dir` is given), one in this process."""
    settings = load_config().client
    server = args.server or os.environ.get("IMPASTO_SERVER") or settings.server
    token_file = args.token_file or settings.token_file
    tls_ca = args.tls_ca or settings.tls_ca
    tls = args.tls or settings.tls
    if server and models_dir is not None:
        raise UsageError("--models-dir applies to a daemon in this process; give it to 'impasto serve' instead")
    try:
        connection = Connection.from_files(server or DEFAULT_ADDRESS, token_file, tls_ca, tls)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if server:
        client = Client(connection)
        try:
            client.check(5.0)
        except ImpastoError as err:
            client.close()
            raise UsageError(err.message) from None
        with client:
            yield client
        return
    client = Client(connection)
    if models_dir is None and client.wait_ready(0.3):
        with client:
            yield client
        return
    client.close()
    from .serving.daemon import Config, Daemon

    logs.setup("warning", "text")
    daemon = Daemon(Config(port=0, models_dir=models_dir)).start()
    try:
        with Client(daemon.address) as local:
            yield local
    finally:
        daemon.stop(grace=0.5)


def parse_style(spec: str) -> Style:
    """'starry.png', 'starry.png=0.5', 'cin26:3' or 'cin26:3=0.5'."""
    from .imaging.imagefiles import read_image

    source, weight = spec, 1.0
    if not Path(spec).exists() and "=" in spec:
        source, _, text = spec.rpartition("=")
        try:
            weight = float(text)
        except ValueError:
            raise UsageError(f"--style {spec}: the weight after '=' must be a number") from None
        if not math.isfinite(weight) or weight < 0:
            raise UsageError(f"--style {spec}: the weight must be a finite number of at least 0")
    if Path(source).exists():
        return (read_image(source, f"--style {source}"), weight)
    if "/" in source or "." in Path(source).name:
        raise UsageError(f"--style {source}: no such file")
    return (source, weight)


def parse_params(args: argparse.Namespace) -> dict[str, str | int]:
    params: dict[str, str | int] = {}
    for name in ("size", "steps", "seed", "batch"):
        if getattr(args, name, None) is not None:
            params[name] = getattr(args, name)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {item}: use KEY=VALUE, e.g. --set style_weight=200")
        params[key.strip()] = value.strip()
    return params


class ProgressBar:
    """A bar redrawn in place on a terminal; into a log or a pipe a line every 10 s; with --quiet, nothing."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.in_place = sys.stderr.isatty()
        self.last_line = 0.0

    def __call__(self, event: StylizeEvent) -> None:
        if event.kind == "queued" and event.position:
            self._show(f"waiting in the queue: {event.position} job(s) ahead")
        elif event.kind == "progress" and event.total:
            frac = event.step / event.total
            bar = "#" * int(frac * 30)
            self._show(f"[{bar:<30}] {frac:4.0%} {event.stage} {event.step}/{event.total}", event.step == event.total)

    def _show(self, text: str, force: bool = False) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if not self.in_place:
            if force or now - self.last_line > 10:
                print(text, file=sys.stderr, flush=True)
                self.last_line = now
            return
        print(f"\r{text[:100]:<100}", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        if not self.quiet and self.in_place:
            print(file=sys.stderr)


def cmd_stylize(args: argparse.Namespace) -> int:
    from .imaging.imagefiles import check_writable, read_image, read_mask, write_image

    content = read_image(args.content, "content")
    styles = [parse_style(s) for s in args.style]
    mask = read_mask(args.mask) if args.mask else None
    if mask is not None and (mask.width, mask.height) != (content.width, content.height):
        raise UsageError(
            f"--mask {args.mask} is {mask.width}x{mask.height} but {args.content} is "
            f"{content.width}x{content.height}; they must be the same size"
        )
    if len(args.style_labels) > len(styles):
        raise UsageError("--style-labels: more label maps than --style pictures")
    content_labels = read_image(args.content_labels, "--content-labels") if args.content_labels else None
    style_labels = [read_image(path, "--style-labels") for path in args.style_labels]
    params = parse_params(args)
    out = Path(args.output)
    check_writable(out)
    with connect(args) as client:
        bar = ProgressBar(args.quiet)
        call = client.stylize(
            content,
            styles,
            method=args.method,
            mask=mask,
            params=params,
            preserve_color=args.preserve_color,
            preview_every=args.preview_every,
            content_labels=content_labels,
            style_labels=style_labels,
        )
        try:
            result = call.result(bar)
        finally:
            bar.done()
    written = [(out, result)]
    for name, layer in call.extra_layers.items():
        written.append(
            (out.with_name(f"{out.stem}-{re.sub(r'[^A-Za-z0-9]+', '-', name).strip('-')}{out.suffix}"), layer)
        )
    for path, image in written:
        try:
            write_image(image, path)
        except OSError as err:
            raise UsageError(f"-o {path}: cannot write it ({err.strerror or err})") from None
        if not args.quiet:
            print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        if args.command in ("methods", "trainers"):
            entries = client.list_methods() if args.command == "methods" else client.list_trainers()
            if args.json:
                listed = [asdict(e) for e in entries]
                out = {"device": asdict(client.device()), "methods": listed} if args.command == "methods" else listed
                print(json.dumps(out, indent=2))
                return 0
            for e in entries:
                print(f"{getattr(e, 'name', None) or e.kind:10} {e.title}\n           {e.description}")
                for p in e.params:
                    extra = f" ({'|'.join(p.choices)})" if p.choices else ""
                    print(f"    {p.name:16} {p.type:6} default {p.default!s:10} {p.help}{extra}")
            return 0
        styles = client.list_styles()
        if args.json:
            print(json.dumps([{k: v for k, v in asdict(s).items() if k != "thumbnail"} for s in styles], indent=2))
            return 0
        if not styles:
            print("no built-in styles: use any picture with --style FILE")
        for s in styles:
            print(f"{s.id:14} {s.name:30} [{s.method}] {s.license}")
        return 0


SERVE_DEFAULTS = {
    "host": "127.0.0.1", "port": 50051, "device": "auto", "max_jobs": 1, "max_queue": 16, "store_mb": 4096,
    "models_dir": None, "tls_cert": None, "tls_key": None, "token_file": None, "allow_remote": False,
    "insecure": False, "log_format": "json", "log_level": "info",
}  # fmt: skip


def cmd_serve(args: argparse.Namespace) -> int:
    from .runtime import precision
    from .serving.daemon import Config, Daemon

    settings = load_config().serve
    # A flag given wins over the settings file, which wins over the default.
    value = {
        key: given if (given := getattr(args, key)) not in (None, False) else settings.get(key, default)
        for key, default in SERVE_DEFAULTS.items()
    }
    logs.setup(value["log_level"], value["log_format"])
    files = ("models_dir", "tls_cert", "tls_key", "token_file")
    paths = {key: Path(value[key]).expanduser() if value[key] else None for key in files}
    try:
        daemon = Daemon(
            Config(
                host=value["host"],
                port=value["port"],
                device=value["device"],
                max_jobs=value["max_jobs"],
                max_queue=value["max_queue"],
                store_mb=value["store_mb"],
                allow_remote=value["allow_remote"],
                insecure=value["insecure"],
                **paths,
            )
        )
    except (ValueError, OSError) as err:
        raise UsageError(str(err)) from None
    security = ", ".join(word for word, on in (("TLS", daemon.tls), ("token", daemon.token_required)) if on)
    choice = precision.auto_choice(daemon.device)
    daemon.serve_forever(
        lambda: print(
            f"impasto daemon listening on {daemon.address} ({daemon.device}{', ' + security if security else ''}); "
            f"{choice.device_model}, precision auto = {choice.dtype} ({choice.reason})",
            file=sys.stderr,
            flush=True,
        )
    )
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from .serving.auth import write_token

    out = (args.out or config_dir() / "token").expanduser()
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists; keep it, or replace it with --force (clients using it will need the new one)")
    try:
        write_token(out)
    except OSError as err:
        raise UsageError(f"cannot write {out}: {err.strerror or err}") from None
    print(f"wrote a new token to {out} (readable by you only); give the daemon --token-file {out} and copy the "
          f"file to the machines that use it", file=sys.stderr)  # fmt: skip
    return 0


def cmd_install_plugin(args: argparse.Namespace) -> int:
    from .install import InstallError, normalise_platform, python_for

    if args.editor == "krita":
        from .install import krita as editor

        default = editor.DEFAULT_PYTHON.get(normalise_platform(args.platform), "")
    else:
        from .install import gimp as editor

        default = editor.DEFAULT_PYTHON
        if args.zip:
            raise UsageError("--zip is for Krita's plugin importer; GIMP plug-ins are installed into a folder")
    version, how = python_for(args.editor, normalise_platform(args.platform), args.python_version, default)
    try:
        if args.zip:
            where = editor.write_zip(args.zip, python_version=version, platform=args.platform)
        else:
            where = editor.install(dest=args.dest, python_version=version, platform=args.platform)
    except InstallError as err:
        raise UsageError(str(err)) from None
    if args.zip:
        print(f"wrote {where} for {args.editor}'s Python {version} ({how}); in Krita: Tools ▸ Scripts ▸ Import "
              f"Python Plugin from File…, then enable impasto in Settings ▸ Configure Krita ▸ Python Plugin "
              f"Manager and restart Krita", file=sys.stderr)  # fmt: skip
    else:
        print(f"installed the {args.editor} plugin in {where} for its Python {version} ({how})", file=sys.stderr)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .imaging.imagefiles import read_image

    style = read_image(args.style, "--style") if args.style else None
    photos = ""
    if args.photos:
        local = Path(args.photos)
        photos = str(local.resolve()) if local.exists() else args.photos  # else a folder on the daemon's machine
    params = parse_params(args)
    with connect(args, args.models_dir) as client:
        call = client.train(
            args.kind,
            args.name,
            style=style,
            photos_dir=photos,
            params=params,
            resume=args.resume,
            overwrite=args.overwrite,
        )
        bar = TrainingBar(args.quiet)
        try:
            model = call.result(bar)
        except KeyboardInterrupt:
            call.cancel()
            bar.done()
            again = f"impasto train {args.kind}" + (f" --name {args.name}" if args.name else "")
            print(f"impasto: stopped; the checkpoint is kept: go on with '{again} --resume'", file=sys.stderr)
            return 130
        finally:
            bar.done()
    if model.style_id:
        print(f"trained {model.style_id} in {model.seconds:.0f} s: use it with --method {model.method} --style "
              f"{model.style_id}", file=sys.stderr)  # fmt: skip
    else:
        print(f"trained the {args.kind} in {model.seconds:.0f} s: {model.method} now decodes with it", file=sys.stderr)
    return 0


class TrainingBar:
    """Training progress on one line: steps, the named losses, speed and time left."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.last_line = 0.0
        self.shown = False

    def __call__(self, event: TrainEvent) -> None:
        if self.quiet or event.kind != "progress" or not event.total:
            if not self.quiet and event.kind == "queued" and event.position:
                print(f"waiting in the queue: {event.position} job(s) ahead", file=sys.stderr, flush=True)
            return
        losses = " ".join(f"{k} {v:.3g}" for k, v in sorted(event.losses.items()))
        eta = time.strftime("%H:%M:%S", time.gmtime(event.eta_seconds))
        text = (
            f"[{'#' * int(30 * event.step / event.total):<30}] step {event.step}/{event.total}  {losses}  "
            f"{event.steps_per_second:.2f} steps/s  ETA {eta}"
        )
        now = time.monotonic()
        if self.tty:
            print(f"\r{text[:150]:<150}", end="", file=sys.stderr, flush=True)
            self.shown = True
        elif now - self.last_line > 10 or event.step == event.total:
            print(text, file=sys.stderr, flush=True)
            self.last_line = now

    def done(self) -> None:
        if self.shown:
            print(file=sys.stderr)
            self.shown = False


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    with connect(args) as client:
        for path in run_demo(client, Path(args.output_dir)):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.getLogger("impasto").addHandler(logging.NullHandler())
    commands = {
        "serve": cmd_serve,
        "stylize": cmd_stylize,
        "train": cmd_train,
        "trainers": cmd_list,
        "methods": cmd_list,
        "styles": cmd_list,
        "demo": cmd_demo,
        "install-plugin": cmd_install_plugin,
        "token": cmd_token,
    }
    try:
        return commands[args.command](args)
    except (UsageError, RequestError) as err:
        print(f"impasto: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ImpastoError as err:
        print(f"impasto: {err.message}", file=sys.stderr)
        bad_input = ("INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED", "UNAUTHENTICATED")
        return EXIT_BAD_INPUT if err.code in bad_input else 1
    except KeyboardInterrupt:
        print("impasto: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
