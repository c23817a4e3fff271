//! The pipelines and deploy scripts (issue 24): every Bicep parameter reaches azd from both
//! pipelines, the Azure DevOps package job can install what it needs, no Azure login is used after
//! its token has expired, and no build goes out before the database was migrated with it. The
//! scripts run here against stand-ins for `az`, `azd` and `curl` that record what they were asked.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use crate::{
    deployable::{main_bicep, params},
    infra::{read, root},
};

/// Variables that no pipeline sets, each produced by a script the pipelines run.
const SET_BY_SCRIPTS: [(&str, &str); 5] = [
    ("HEALTHSYNC_RELEASE_URL", "scripts/deploy-azure stage (the preprovision hook)"),
    ("HEALTHSYNC_RELEASE_SHA256", "scripts/deploy-azure stage (the preprovision hook)"),
    ("HEALTHSYNC_PACKAGE_URL", "scripts/deploy-azure package-urls"),
    ("HEALTHSYNC_STAGING_PACKAGE_URL", "scripts/deploy-azure package-urls"),
    ("AZURE_PRINCIPAL_TYPE", "fixed to ServicePrincipal in each pipeline"),
];

/// Each parameter of main.bicep and the azd variable main.parameters.json reads it from.
fn azd_variables() -> Vec<(String, String)> {
    let file: serde_json::Value =
        serde_json::from_str(&read(&root().join("infra/main.parameters.json"))).unwrap();
    file["parameters"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(param, v)| {
            let value = v["value"].as_str().unwrap();
            let var = value.trim_start_matches("${").split(['=', '}']).next().unwrap();
            (param.clone(), var.to_string())
        })
        .collect()
}

/// The lines of the Azure DevOps task whose display name starts with `display`.
fn devops_task(pipeline: &str, display: &str) -> String {
    let start =
        pipeline.find(&format!("displayName: {display}")).unwrap_or_else(|| panic!("no task {display}"));
    let rest = &pipeline[start..];
    let end = rest[1..].find("- task:").or_else(|| rest.find("\nresources:")).unwrap_or(rest.len());
    rest[..end].to_string()
}

#[test]
fn every_parameter_reaches_azd_from_both_pipelines_so_a_provision_reverts_nothing() {
    let github = read(&root().join(".github/workflows/deploy.yml"));
    let devops = read(&root().join("azure-pipelines.yml"));
    let provision = devops_task(&devops, "azd provision");
    let deploy = devops_task(&devops, "Deploy, smoke test");
    let (source, tree) = main_bicep();
    let declared = params(&tree, &source);
    let scripted: BTreeSet<&str> = SET_BY_SCRIPTS.iter().map(|(v, _)| *v).collect();
    let mut checked = 0;
    for (param, var) in azd_variables() {
        if scripted.contains(var.as_str()) {
            continue;
        }
        let from = if declared[&param].secure { "secrets" } else { "vars" };
        assert!(
            github.contains(&format!("      {var}: ${{{{ {from}.{var} }}}}\n")),
            "deploy.yml does not pass {var} (parameter {param}) from {from}"
        );
        for (name, task) in [("provision", &provision), ("deploy", &deploy)] {
            assert!(
                task.contains(&format!("                    {var}: $({var})\n")),
                "azure-pipelines.yml's {name} task does not pass {var} (parameter {param})"
            );
        }
        checked += 1;
    }
    assert!(checked >= 35, "only {checked} parameters checked");
    // What the pipelines do not pass, the scripts they run set.
    let deploy_azure = read(&root().join("scripts/deploy-azure"));
    for (var, by) in SET_BY_SCRIPTS {
        let set = match var {
            "AZURE_PRINCIPAL_TYPE" => {
                github.contains("AZURE_PRINCIPAL_TYPE: ServicePrincipal")
                    && devops.matches("export AZURE_PRINCIPAL_TYPE=ServicePrincipal").count() == 2
            }
            v if v.starts_with("HEALTHSYNC_RELEASE") => {
                deploy_azure.contains(&format!("azd env set {v} \"$"))
            }
            v => deploy_azure.contains(&format!("echo \"{v}=$(url")),
        };
        assert!(set, "{var} should be set by {by}");
    }
    // An undefined Azure DevOps variable arrives as the text `$(NAME)`: both tasks clear those.
    for task in [&provision, &deploy] {
        assert!(task.contains(". scripts/ci-env"), "{task}");
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(". scripts/ci-env; printf '%s|%s' \"$CLAUDE_API_KEY\" \"$HEALTHSYNC_REDIS_SKU\"")
        .current_dir(root())
        .env("CLAUDE_API_KEY", "$(CLAUDE_API_KEY)")
        .env("HEALTHSYNC_REDIS_SKU", "Balanced_B3")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "|Balanced_B3");
}

#[test]
fn the_azure_devops_package_job_runs_on_the_vm_where_scripts_package_may_use_sudo() {
    let devops = read(&root().join("azure-pipelines.yml"));
    let start = devops.find("      - job: package").expect("a package job");
    let job = &devops[start..devops[start..].find("  - stage: Deploy").map_or(devops.len(), |e| start + e)];
    assert!(
        !job.lines().any(|l| l.trim_start().starts_with("container:")),
        "a container job runs as a non-root user without sudo (the rust image has none):\n{job}"
    );
    assert!(job.contains("vmImage: ubuntu-latest") && job.contains("script: scripts/package"), "{job}");
    assert!(!job.contains("apt-get"), "scripts/package installs musl-tools itself:\n{job}");
    let package = read(&root().join("scripts/package"));
    assert!(package.contains("sudo=sudo") && package.contains("$sudo apt-get install -y -qq musl-tools"));
}

#[test]
fn after_the_provision_the_pipelines_log_in_again_and_azd_fetches_fresh_tokens_itself() {
    let github = read(&root().join(".github/workflows/deploy.yml"));
    let provision = github.find("run: azd provision --no-prompt").expect("azd provision");
    let deploy = github.find("run: scripts/deploy-azure dist/healthsync.zip").expect("the deploy step");
    let logins: Vec<usize> = github.match_indices("uses: azure/login@v2").map(|(i, _)| i).collect();
    assert!(
        logins.iter().any(|&i| i > provision && i < deploy),
        "deploy.yml must log in to az again between the provision and the deploy"
    );
    assert!(github.contains("--federated-credential-provider github"));

    let devops = read(&root().join("azure-pipelines.yml"));
    assert!(!devops.contains("useAzCliAuth"), "azd must not borrow az's login, which expires");
    let provision = devops_task(&devops, "azd provision");
    let deploy = devops_task(&devops, "Deploy, smoke test");
    for task in [&provision, &deploy] {
        assert!(task.contains("task: AzureCLI@2") || devops.contains("- task: AzureCLI@2"));
        assert!(task.contains("azd auth login --federated-credential-provider azure-pipelines"), "{task}");
        assert!(task.contains("SYSTEM_ACCESSTOKEN: $(System.AccessToken)"), "{task}");
    }
    assert!(
        provision.contains("azd provision --no-prompt") && !provision.contains("scripts/deploy-azure dist/")
    );
    assert!(deploy.contains("scripts/deploy-azure dist/healthsync.zip") && !deploy.contains("azd provision"));
    // Nothing after the provision but the deploy step needs a login: no postprovision hook.
    assert!(!read(&root().join("azure.yaml")).contains("postprovision"));
}

/// Stand-ins for `az`, `azd` and `curl` that log their arguments (one call per line) and answer
/// what the scripts read: the release account, its firewall's default action, azd's values.
struct Stubs {
    dir: tempfile::TempDir,
}

impl Stubs {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
            let mut perms = std::fs::metadata(&path).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
            std::fs::set_permissions(&path, perms).unwrap();
        };
        write(
            "az",
            r#"echo "az $*" >> "$STUB_LOG"
case "$*" in
  "account show"*) [ -z "${STUB_NO_LOGIN:-}" ] || exit 1 ;;
  "storage account list"*) printf '%s\n' "${STUB_RELEASE_ACCOUNT:-}" ;;
  *networkRuleSet.defaultAction*) echo "${STUB_DEFAULT_ACTION:-Allow}" ;;
esac
"#,
        );
        write(
            "azd",
            r#"echo "azd $*" >> "$STUB_LOG"
case "$1" in
  env) [ "$2" = get-values ] && cat "$STUB_VALUES" ;;
  provision) [ -n "${STUB_VALUES_AFTER_PROVISION:-}" ] && cp "$STUB_VALUES_AFTER_PROVISION" "$STUB_VALUES" ;;
esac
exit 0
"#,
        );
        write("curl", "case \"$*\" in *ipify*) echo 203.0.113.7 ;; *) printf 200 ;; esac\n");
        Stubs { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs scripts/deploy-azure with `args` and `env`, the stand-ins first on PATH.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let path = format!("{}:{}", self.dir.path().display(), std::env::var("PATH").unwrap());
        let mut cmd = Command::new(root().join("scripts/deploy-azure"));
        cmd.args(args)
            .env("PATH", path)
            .env("STUB_LOG", self.path("log"))
            .env("STUB_VALUES", self.path("values"))
            .env_remove("AZURE_MIGRATED_SHA256")
            .env_remove("AZURE_HAS_STAGING_SLOT");
        if !self.path("values").exists() {
            std::fs::write(self.path("values"), "").unwrap();
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("log")).unwrap_or_default().lines().map(String::from).collect()
    }
}

/// A package zip whose `healthsync` has the given bytes, and that binary's SHA-256.
fn package(dir: &Path, binary: &[u8]) -> (PathBuf, String) {
    use std::io::Write;
    let path = dir.join("healthsync.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    zip.start_file("healthsync", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(binary).unwrap();
    zip.finish().unwrap();
    (path, sha256(binary))
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn position(calls: &[String], prefix: &str) -> Option<usize> {
    calls.iter().position(|c| c.starts_with(prefix))
}

#[test]
fn staging_uploads_the_build_to_the_release_store_and_hands_its_url_and_hash_to_the_provision() {
    let stubs = Stubs::new();
    let (zip, sha) = package(stubs.dir.path(), b"a build");
    let out = stubs.run(
        &["stage", zip.to_str().unwrap()],
        &[("AZURE_ENV_NAME", "prod"), ("STUB_RELEASE_ACCOUNT", "strelabc"), ("STUB_DEFAULT_ACTION", "Deny")],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let calls = stubs.calls();
    let open = position(&calls, "az storage account network-rule add").expect("the firewall opened");
    let upload = calls
        .iter()
        .position(|c| {
            c.starts_with("az storage blob upload") && c.contains(&format!("--name healthsync-{sha}.zip"))
        })
        .unwrap_or_else(|| panic!("no upload of healthsync-{sha}.zip: {calls:#?}"));
    let close = position(&calls, "az storage account network-rule remove").expect("the firewall closed");
    assert!(open < upload && upload < close, "{calls:#?}");
    assert!(calls.iter().any(|c| c.contains("--ip-address 203.0.113.7")));
    let url = format!(
        "azd env set HEALTHSYNC_RELEASE_URL https://strelabc.blob.core.windows.net/releases/healthsync-{sha}.zip"
    );
    assert!(calls.contains(&url), "{calls:#?}");
    assert!(calls.contains(&format!("azd env set HEALTHSYNC_RELEASE_SHA256 {sha}")), "{calls:#?}");

    // An environment's first provision: no store yet, nothing uploaded, no release named (a
    // stale one is cleared).
    let stubs = Stubs::new();
    let (zip, _) = package(stubs.dir.path(), b"a build");
    let out = stubs.run(
        &["stage", zip.to_str().unwrap()],
        &[("AZURE_ENV_NAME", "prod"), ("HEALTHSYNC_RELEASE_URL", "https://old.invalid/x.zip")],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let calls = stubs.calls();
    assert!(position(&calls, "az storage blob upload").is_none(), "{calls:#?}");
    assert!(calls.contains(&"azd env set HEALTHSYNC_RELEASE_URL ".to_string()), "{calls:#?}");

    // Without an az login the hook stops, rather than mistake it for a first provision.
    let stubs = Stubs::new();
    let (zip, _) = package(stubs.dir.path(), b"a build");
    let out =
        stubs.run(&["stage", zip.to_str().unwrap()], &[("AZURE_ENV_NAME", "prod"), ("STUB_NO_LOGIN", "1")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("az login"));
    assert!(!stubs.calls().iter().any(|c| c.starts_with("azd env set")), "{:#?}", stubs.calls());
}

#[test]
fn a_deploy_has_the_provision_migrate_first_when_the_database_has_not_seen_the_build() {
    let stubs = Stubs::new();
    let (zip, sha) = package(stubs.dir.path(), b"new code");
    let flex = [
        ("AZURE_RESOURCE_GROUP", "rg-healthsync-prod"),
        ("AZURE_FUNCTION_APP_NAME", "func-healthsync"),
        ("AZURE_PUBLIC_URL", "https://example.invalid"),
        ("AZURE_ENV_NAME", "prod"),
    ];
    // The database was migrated with another build: provision (which migrates) before deploying.
    let after = stubs.path("after");
    std::fs::write(&after, format!("AZURE_MIGRATED_SHA256=\"{sha}\"\n")).unwrap();
    let mut env = flex.to_vec();
    env.extend([("AZURE_MIGRATED_SHA256", "0ld"), ("STUB_VALUES_AFTER_PROVISION", after.to_str().unwrap())]);
    let out = stubs.run(&[zip.to_str().unwrap()], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let calls = stubs.calls();
    let provision = position(&calls, "azd provision --no-prompt").expect("a provision first");
    let deploy = position(&calls, "az functionapp deployment source config-zip").expect("a deploy");
    assert!(provision < deploy, "{calls:#?}");

    // The provision did not migrate with this build: nothing is deployed.
    let stubs = Stubs::new();
    let (zip, _) = package(stubs.dir.path(), b"new code");
    let mut env = flex.to_vec();
    env.push(("AZURE_MIGRATED_SHA256", "0ld"));
    let out = stubs.run(&[zip.to_str().unwrap()], &env);
    assert!(!out.status.success());
    assert!(position(&stubs.calls(), "az functionapp deployment").is_none(), "{:#?}", stubs.calls());

    // Already migrated with it: straight to the deploy.
    let stubs = Stubs::new();
    let (zip, sha) = package(stubs.dir.path(), b"new code");
    let mut env = flex.to_vec();
    env.push(("AZURE_MIGRATED_SHA256", sha.as_str()));
    let out = stubs.run(&[zip.to_str().unwrap()], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let calls = stubs.calls();
    assert!(position(&calls, "azd provision").is_none(), "{calls:#?}");
    assert!(position(&calls, "az functionapp deployment source config-zip").is_some(), "{calls:#?}");
}

#[test]
fn the_predeploy_guard_refuses_premium_and_a_build_the_database_was_not_migrated_with() {
    let azure = read(&root().join("azure.yaml"));
    let service = &azure[azure.find("services:").unwrap()..azure.find("\nhooks:").unwrap()];
    assert!(
        service.contains("predeploy:\n        shell: sh\n        run: scripts/deploy-azure guard"),
        "the api service's predeploy hook is the guard:\n{service}"
    );
    let project = &azure[azure.find("\nhooks:").unwrap()..];
    assert!(
        project.contains("preprovision:\n    shell: sh\n    run: scripts/deploy-azure stage"),
        "{project}"
    );

    let stubs = Stubs::new();
    let dist = stubs.dir.path().join("dist");
    std::fs::create_dir_all(dist.join("app")).unwrap();
    std::fs::write(dist.join("app/healthsync"), b"this build").unwrap();
    let sha = sha256(b"this build");
    let dist = dist.to_str().unwrap();
    let guard = |env: &[(&str, &str)]| {
        let mut all = vec![("PACKAGE_DIST", dist)];
        all.extend_from_slice(env);
        stubs.run(&["guard"], &all)
    };

    let out = guard(&[("AZURE_HAS_STAGING_SLOT", "true"), ("AZURE_MIGRATED_SHA256", sha.as_str())]);
    assert!(!out.status.success(), "azd deploy on Premium must be refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("staging slot"));

    let out = guard(&[("AZURE_HAS_STAGING_SLOT", "false"), ("AZURE_MIGRATED_SHA256", "another")]);
    assert!(!out.status.success(), "a build the database was not migrated with must be refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("azd provision"));

    let out = guard(&[("AZURE_HAS_STAGING_SLOT", "false"), ("AZURE_MIGRATED_SHA256", sha.as_str())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stubs.calls().is_empty(), "the guard calls nothing: {:#?}", stubs.calls());
}
