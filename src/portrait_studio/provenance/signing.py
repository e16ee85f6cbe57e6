"""Who signs the Content Credentials: the user's key and certificate, or a key made once on this machine.

Where the key comes from, first found wins: the ``--sign-key``/``--sign-cert`` flags (passed here as
`key`/`cert`), the environment (``PORTRAIT_SIGN_KEY``, ``PORTRAIT_SIGN_CERT``: paths to PEM files), the
config file (``$XDG_CONFIG_HOME/portrait-studio/config.toml``, ``[signing] key = "..."`` and
``cert = "..."``), else a key made on first use in the user's config folder (``signing/``): an ECDSA P-256
key with a certificate chain of its own (a local root and the signing certificate it issued, since C2PA
refuses a self-signed signing certificate). Credentials signed by that key are valid but not trusted by
anyone else's reader. No key ships with the package.
"""
from __future__ import annotations

import datetime
import os
import pathlib
import tomllib
from dataclasses import dataclass

from ..errors import InputError

#: The environment variables naming the user's PEM key and certificate chain.
ENV_KEY, ENV_CERT = "PORTRAIT_SIGN_KEY", "PORTRAIT_SIGN_CERT"
#: Said once, when the local key is made (and in ``portrait verify`` when it signed a file).
LOCAL_NOTE = ("Content Credentials are signed with a key made on this machine ({where}); others' readers will not "
              "trust it (give your own with --sign-key/--sign-cert, PORTRAIT_SIGN_KEY/PORTRAIT_SIGN_CERT or "
              "[signing] in {config})")
LOCAL_NAME = "portrait-studio local signer"


@dataclass(frozen=True)
class SigningKey:
    """A private key and certificate chain, PEM text; `local` when made by :func:`local_key`, `made` when made by
    this very call (so an interface says the one note)."""

    key: str
    chain: str
    alg: str = "es256"
    source: str = ""
    local: bool = False
    made: bool = False


def config_dir(env: os._Environ | dict | None = None) -> pathlib.Path:
    """The user's config folder for portrait-studio (XDG: ``$XDG_CONFIG_HOME`` or ``~/.config``)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return pathlib.Path(base) / "portrait-studio"


def signing_key(*, key: str | os.PathLike | None = None, cert: str | os.PathLike | None = None,
                env: dict | None = None) -> SigningKey:
    """The key to sign with: flags, environment, config file, else the local key (made on first use).

    Raises
    ------
    InputError
        A key without its certificate (or the reverse), a file that cannot be read or is not PEM.
    """
    env = os.environ if env is None else env
    for where, k, c in (("flags", key, cert), ("environment", env.get(ENV_KEY), env.get(ENV_CERT)),
                        *_from_config(env)):
        if k or c:
            if not (k and c):
                missing = "certificate" if k else "key"
                raise InputError(k or c, f"a signing {'key' if k else 'certificate'} without its {missing} ({where})",
                                 "give both the key and the certificate chain (PEM)")
            return SigningKey(_pem(k, "PRIVATE KEY"), _pem(c, "CERTIFICATE"), _alg(_pem(k, "PRIVATE KEY")), where)
    return local_key(config_dir(env))


def _from_config(env) -> list[tuple[str, str | None, str | None]]:
    path = config_dir(env) / "config.toml"
    if not path.is_file():
        return []
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InputError(path, f"cannot be read as TOML ({e})", "fix the file or remove it") from None
    s = doc.get("signing") or {}
    expand = lambda p: os.path.expanduser(p) if p else None          # noqa: E731
    return [(str(path), expand(s.get("key")), expand(s.get("cert")))]


def _pem(path, kind: str) -> str:
    try:
        text = pathlib.Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot be read ({getattr(e, 'strerror', None) or e})",
                         "give a PEM file you can read") from None
    if f"-----BEGIN {kind}" not in text and not (kind == "PRIVATE KEY" and "PRIVATE KEY-----" in text):
        raise InputError(path, f"is not a PEM {kind.lower()}", f"give a PEM file (-----BEGIN {kind}-----)")
    return text


def _alg(key_pem: str) -> str:
    """The C2PA signing algorithm for a PEM private key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    k = serialization.load_pem_private_key(key_pem.encode(), password=None)
    if isinstance(k, ec.EllipticCurvePrivateKey):
        return {256: "es256", 384: "es384", 521: "es512"}[k.curve.key_size]
    if isinstance(k, rsa.RSAPrivateKey):
        return "ps256"
    if isinstance(k, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise InputError("signing key", "is of a kind C2PA cannot sign with", "use an EC P-256/384, RSA or Ed25519 key")


def local_key(folder: pathlib.Path) -> SigningKey:
    """The key made on this machine, in `folder`/signing (made now if it is not there: ``made`` says so).

    The folder and key are private to the user (0700 / 0600). Made with :mod:`cryptography`.
    """
    where = folder / "signing"
    key_path, chain_path = where / "key.pem", where / "chain.pem"
    if key_path.is_file() and chain_path.is_file():
        return SigningKey(key_path.read_text(), chain_path.read_text(), "es256", str(where), local=True)
    key, chain = _make_chain()
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path, text, mode in ((chain_path, chain, 0o644), (key_path, key, 0o600)):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    return SigningKey(key, chain, "es256", str(where), local=True, made=True)


def _make_chain() -> tuple[str, str]:
    """A fresh P-256 signing key and its chain (signing certificate, then the local root that issued it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),          # noqa: E731
                                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, "portrait-studio (local)")])
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = (x509.CertificateBuilder().subject_name(name(LOCAL_NAME + " root")).issuer_name(name(LOCAL_NAME + " root"))
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(name(LOCAL_NAME)).issuer_name(root.subject)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()                 # noqa: E731
    key = leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()
    return key, pem(leaf) + pem(root)
