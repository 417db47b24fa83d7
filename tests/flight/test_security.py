"""Bearer-token auth and TLS against the real server."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import pytest

import fdag
from reference import make_trades

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def auth_server(start_server):
    return start_server("--auth-token", TOKEN, "--auth-token", "second-token", name="auth")


def test_no_token_is_unauthenticated(auth_server):
    c = fdag.FeatureClient(auth_server.location(), timeout=30)
    with pytest.raises(fdag.Unauthenticated) as ei:
        c.health()
    msg = str(ei.value)
    assert msg and "gRPC returned" not in msg
    with pytest.raises(fdag.Unauthenticated):
        c.compute(make_trades(rows_per_symbol=20), {"m": "log(close)"})


def test_wrong_token_is_unauthenticated(auth_server):
    c = fdag.FeatureClient(auth_server.location(), token="wrong", timeout=30)
    with pytest.raises(fdag.Unauthenticated):
        c.health()
    with pytest.raises(fdag.Unauthenticated):
        c.list_features()


@pytest.mark.parametrize("token", [TOKEN, "second-token"])
def test_right_token(auth_server, token):
    c = fdag.FeatureClient(auth_server.location(), token=token, timeout=60)
    assert c.health()["status"] == "ok"
    trades = make_trades(rows_per_symbol=50)
    r = c.compute(trades, {"m": "rolling_mean(close, 3)"}, chunk_rows=40)
    assert r.ok and r.table.num_rows == trades.num_rows
    assert "auth=bearer token" in repr(c)


def test_basic_auth_handshake_issues_bearer_token(auth_server):
    """pyarrow's Flight basic-auth handshake gets a bearer header that works
    for later calls; a wrong password is Unauthenticated."""
    import pyarrow.flight as flight

    c = flight.FlightClient(auth_server.location())
    key, value = c.authenticate_basic_token(b"alice", TOKEN.encode())
    assert key.lower() == b"authorization" and value.startswith(b"Bearer "), (key, value)
    opts = flight.FlightCallOptions(headers=[(key, value)])
    assert list(c.do_action(flight.Action("health", b""), opts))
    with pytest.raises(flight.FlightUnauthenticatedError):
        c.authenticate_basic_token(b"alice", b"wrong")
    c.close()


# --- TLS -------------------------------------------------------------------


def _make_certs(directory: Path):
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fdag test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "server.pem").write_bytes(cert.public_bytes(pem))
    (directory / "server.key").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"


@pytest.fixture(scope="module")
def tls(start_server, tmp_path_factory):
    pytest.importorskip("cryptography")
    ca, cert, key = _make_certs(tmp_path_factory.mktemp("tls"))
    server = start_server("--tls-cert", str(cert), "--tls-key", str(key), name="tls")
    return server, ca


def test_tls_with_root_cert(tls):
    server, ca = tls
    c = fdag.FeatureClient(f"grpc+tls://{server.address}", tls_root_certs=ca.read_bytes(), timeout=60)
    assert c.health()["status"] == "ok"
    trades = make_trades(rows_per_symbol=100)
    r = c.compute(trades, {"m": "rolling_mean(close, 3)"}, chunk_rows=64)
    assert r.ok and r.table.num_rows == trades.num_rows
    assert "tls=on" in repr(c)


def test_tls_root_cert_as_path_and_host_port(tls):
    server, ca = tls
    c = fdag.FeatureClient(server.address, tls_root_certs=str(ca), timeout=60)
    assert c.location.startswith("grpc+tls://")
    assert c.health()["status"] == "ok"


def test_tls_untrusted_cert_fails(tls, tmp_path):
    server, _ = tls
    other_ca, _, _ = _make_certs(tmp_path)
    c = fdag.FeatureClient(f"grpc+tls://{server.address}", tls_root_certs=other_ca.read_bytes(), timeout=20)
    with pytest.raises(fdag.FdagError):
        c.health()


def test_plaintext_client_to_tls_server_fails(tls):
    server, _ = tls
    c = fdag.FeatureClient(f"grpc://{server.address}", timeout=20)
    with pytest.raises(fdag.FdagError):
        c.health()
