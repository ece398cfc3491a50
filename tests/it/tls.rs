//! TLS with a private CA: the emulator behind a TLS terminator whose certificate is signed by a
//! CA generated here. `plan` trusts it through `SSL_CERT_FILE`, and without it fails with a
//! message that names the URL, the reason and the variable to set. Through `HTTPS_PROXY`, the
//! same plan goes through a CONNECT proxy on loopback.

use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::support::{acme_emulator, run_with_env, runtime};

/// A host name that only the test proxy knows how to reach.
const PROXIED_HOST: &str = "api.bt-gitops.test";

/// A CA, and a server certificate for 127.0.0.1 signed by it: `(ca_pem, server_config)`.
fn private_ca(name: &str) -> (String, rustls::ServerConfig) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), PROXIED_HOST.to_owned()])
        .expect("params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
    .expect("server config");
    (ca.pem(), config)
}

/// Accepts TLS on a loopback port and forwards each connection to `backend` in plain TCP.
async fn terminate_tls(config: rustls::ServerConfig, backend: std::net::SocketAddr) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                if let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    port
}

/// The emulator behind TLS, in a runtime; a scratch directory with the CA's PEM file and a
/// manifest for `acme`.
struct Setup {
    _rt: tokio::runtime::Runtime,
    emu: bt_gitops::emulator::EmuHandle,
    tls_port: u16,
    dir: tempfile::TempDir,
    ca_file: std::path::PathBuf,
}

fn setup() -> Setup {
    let rt = runtime();
    let emu = rt.block_on(acme_emulator(true));
    let (ca_pem, config) = private_ca("bt-gitops test CA");
    let tls_port = rt.block_on(terminate_tls(config, emu.addr()));
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    fs_err::write(&ca_file, ca_pem).expect("write CA");
    fs_err::write(dir.path().join("org.yaml"), "org: acme\n").expect("write manifest");
    Setup {
        _rt: rt,
        emu,
        tls_port,
        dir,
        ca_file,
    }
}

#[test]
fn plans_over_tls_with_a_private_ca_from_ssl_cert_file_and_names_the_fix_without_it() {
    let Setup {
        _rt,
        emu,
        tls_port: port,
        dir,
        ca_file,
    } = setup();
    let url = format!("https://127.0.0.1:{port}");
    let ca = ca_file.to_string_lossy().into_owned();
    let env = [
        ("BRAINTRUST_API_URL", url.as_str()),
        ("BRAINTRUST_API_KEY", emu.api_key()),
        ("SSL_CERT_FILE", ca.as_str()),
    ];

    let trusted = run_with_env(dir.path(), &["plan", "org.yaml"], &env);
    assert_eq!(trusted.code, Some(0), "{}", trusted.stderr);
    assert!(trusted.stdout.contains("Plan:"), "{}", trusted.stdout);

    let untrusted = run_with_env(dir.path(), &["plan", "org.yaml"], &env[..2]);
    assert_eq!(untrusted.code, Some(1), "{}", untrusted.stdout);
    for part in [
        url.as_str(),
        "TLS handshake",
        "unknown issuer; trusted: the platform's certificate store",
        "set `SSL_CERT_FILE`",
    ] {
        assert!(
            untrusted.stderr.contains(part),
            "`{part}` missing from:\n{}",
            untrusted.stderr
        );
    }
    assert!(
        !untrusted.stderr.contains(emu.api_key()),
        "the key leaked:\n{}",
        untrusted.stderr
    );

    // Another CA in SSL_CERT_FILE: the message names the file that was trusted instead.
    let other = dir.path().join("other-ca.pem");
    fs_err::write(&other, private_ca("another CA").0).expect("write the other CA");
    let other_s = other.to_string_lossy().into_owned();
    let wrong = run_with_env(
        dir.path(),
        &["plan", "org.yaml"],
        &[env[0], env[1], ("SSL_CERT_FILE", other_s.as_str())],
    );
    assert_eq!(wrong.code, Some(1), "{}", wrong.stdout);
    assert!(
        wrong
            .stderr
            .contains(&format!("unknown issuer; trusted: SSL_CERT_FILE={other_s}")),
        "{}",
        wrong.stderr
    );
}

/// A CONNECT proxy on loopback that tunnels every request to `backend`; returns its port and
/// the CONNECT request lines it received.
async fn connect_proxy(backend: std::net::SocketAddr) -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    if client.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head);
                let line = text.lines().next().unwrap_or("").to_owned();
                log.lock().expect("log").push(line);
                let Ok(mut upstream) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                if client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_ok()
                {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (port, seen)
}

#[test]
fn https_proxy_carries_the_api_requests() {
    let Setup {
        _rt: rt,
        emu,
        tls_port,
        dir,
        ca_file,
    } = setup();
    let (proxy_port, seen) = rt.block_on(connect_proxy(std::net::SocketAddr::from((
        [127, 0, 0, 1],
        tls_port,
    ))));
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let url = format!("https://{PROXIED_HOST}");
    let run = run_with_env(
        dir.path(),
        &["plan", "org.yaml"],
        &[
            ("BRAINTRUST_API_URL", url.as_str()),
            ("BRAINTRUST_API_KEY", emu.api_key()),
            ("SSL_CERT_FILE", &ca_file.to_string_lossy()),
            ("HTTPS_PROXY", proxy.as_str()),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("Plan:"), "{}", run.stdout);
    let seen = seen.lock().expect("log").clone();
    assert!(
        !seen.is_empty()
            && seen
                .iter()
                .all(|l| l.starts_with(&format!("CONNECT {PROXIED_HOST}:443 "))),
        "{seen:?}"
    );
}
