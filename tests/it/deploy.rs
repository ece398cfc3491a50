//! `deploy/`: the Kubernetes manifests render with `kubectl kustomize` and carry the fields that
//! matter (replicas, image, probes on the metrics port, non-root, secrets by reference), and the
//! Dockerfile builds a static binary into a shell-less, non-root image.

use std::process::Command;

use serde_json::Value;

use crate::support::root;

/// The rendered objects of `kubectl kustomize deploy/`.
fn rendered() -> Vec<Value> {
    let out = Command::new("kubectl")
        .args(["kustomize", "deploy/"])
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "kubectl is needed to render deploy/ (install kubectl; it is on CI machines): {e}"
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl kustomize deploy/ failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .split("\n---\n")
        .map(|doc| serde_saphyr::from_str::<Value>(doc).expect("rendered YAML"))
        .collect()
}

fn object<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("deploy/ renders no {kind}"))
}

#[test]
fn the_kubernetes_manifests_render_with_probes_non_root_and_secret_refs() {
    let objects = rendered();
    let deployment = object(&objects, "Deployment");
    assert_eq!(
        deployment["spec"]["replicas"], 2,
        "two replicas share the orgs"
    );
    let pod = &deployment["spec"]["template"]["spec"];
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(deployment["spec"]["selector"]["matchLabels"], *labels);

    // Non-root everywhere, no privilege escalation, no Kubernetes API token.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_ne!(pod["securityContext"]["runAsUser"], 0);
    assert_eq!(pod["automountServiceAccountToken"], false);
    let controller = pod["containers"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "controller"))
        .expect("a controller container");
    for container in pod["containers"]
        .as_array()
        .into_iter()
        .chain(pod["initContainers"].as_array())
        .flatten()
    {
        assert_eq!(
            container["securityContext"]["allowPrivilegeEscalation"], false,
            "{}",
            container["name"]
        );
        assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    }
    assert_eq!(
        controller["image"],
        "ghcr.io/braintrust-gitops/bt-gitops:latest"
    );

    // Probes on the port the controller serves its metrics on.
    let args: Vec<&str> = controller["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(args[0], "watch");
    assert!(args.contains(&"--metrics-addr=0.0.0.0:9464"), "{args:?}");
    let port = &controller["ports"][0];
    assert_eq!(
        (&port["name"], &port["containerPort"]),
        (&"metrics".into(), &9464.into())
    );
    assert_eq!(controller["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(controller["readinessProbe"]["httpGet"]["path"], "/readyz");
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        assert_eq!(controller[probe]["httpGet"]["port"], "metrics", "{probe}");
    }

    // Keys come from the Secret, never as literal values; every variable set is one bt-gitops
    // reads (or one the args expand).
    let env = controller["env"].as_array().expect("env");
    for name in [
        "BRAINTRUST_API_KEY",
        "BT_GITOPS_SECRET_KEY",
        "BT_GITOPS_GITHUB_TOKEN",
    ] {
        let var = env
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{name} is set"));
        assert_eq!(
            var["valueFrom"]["secretKeyRef"]["name"], "bt-gitops",
            "{name}"
        );
        assert!(var.get("value").is_none(), "{name} has a literal value");
    }
    for var in env {
        let name = var["name"].as_str().expect("name");
        assert!(
            bt_gitops::env::ALL.iter().any(|(n, _)| *n == name)
                || args.iter().any(|a| a.contains(&format!("$({name})"))),
            "{name} is neither read by bt-gitops nor used in the args"
        );
    }
    let git_sync = &pod["initContainers"][0];
    assert_eq!(
        git_sync["restartPolicy"], "Always",
        "git-sync runs as a sidecar"
    );

    // The Service exposes the metrics port of these pods.
    let service = object(&objects, "Service");
    assert_eq!(service["spec"]["selector"], *labels);
    assert_eq!(service["spec"]["ports"][0]["port"], 9464);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "metrics");
}

#[test]
fn the_image_is_a_static_binary_without_a_shell_run_as_non_root() {
    let dockerfile = fs_err::read_to_string(root().join("deploy/Dockerfile")).expect("Dockerfile");
    let lines: Vec<&str> = dockerfile.lines().filter(|l| !l.starts_with('#')).collect();
    let stages: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(stages.len(), 2, "a builder stage and the final image");
    assert!(
        stages[0].contains(" AS build") && dockerfile.contains("unknown-linux-musl"),
        "the builder makes a static musl binary"
    );
    assert!(
        stages[1].starts_with("FROM gcr.io/distroless/static"),
        "the final image has no shell: {}",
        stages[1]
    );
    let final_stage = dockerfile.split(stages[1]).nth(1).expect("final stage");
    assert!(final_stage.contains("USER 65532:65532"));
    assert!(
        !final_stage.contains("RUN "),
        "nothing runs in a shell-less image"
    );
    assert!(final_stage.contains("ENTRYPOINT [\"/usr/local/bin/bt-gitops\"]"));
    assert!(final_stage.contains("EXPOSE 9464"));
}
