//! Configuration, read only from environment variables (App Settings in Azure; the `Values` of
//! `local.settings.json` under `healthsync dev`). Every setting is declared once as a [`Setting`]
//! (name, default, whether Azure needs it, whether it is a secret, one line of doc): the readers
//! take their defaults from it, and the README's table, the Bicep's app settings and the local
//! host's defaults are all derived from the declarations. A missing or malformed setting is an
//! error that names it and never echoes its value.

/// The platform's own settings, one constant each.
pub mod settings;

use std::collections::HashMap;

pub use self::settings::{AppPrincipal, BlobConfig, ClientIpHeader, Config, DatabaseAuth, RedisAuth};

/// A setting that is missing or cannot be parsed. The message names the setting and what it
/// expects, never the value (it may be a secret).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {name} is required but not set ({expects})")]
    Missing { name: &'static str, expects: &'static str },
    #[error("setting {name} is malformed: expected {expects}")]
    Malformed { name: &'static str, expects: &'static str },
}

/// Where the process runs. Decides which local stand-ins are allowed (the dev login, for one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// `healthsync dev` or a developer's shell.
    Local,
    /// Inside the Azure Functions host in Azure (detected from the platform's own variables).
    Azure,
}

/// What a setting means for a deployment in Azure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InAzure {
    /// The app refuses to start in Azure without it; the Bicep must set it.
    Required,
    /// The Bicep sets it (its default, or a value of its own), possibly empty.
    Optional,
    /// Only the local host reads it; the Bicep leaves it out.
    NotUsed,
}

/// One app setting, declared where it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    /// One line for the README's settings table.
    pub doc: &'static str,
    /// The value when it is not set, everywhere. In Azure the Bicep sets non-secret defaults
    /// explicitly (timer schedules must exist as app settings); locally the dev host fills them in.
    pub default: Option<&'static str>,
    pub secret: bool,
    pub azure: InAzure,
}

impl Setting {
    pub const fn new(name: &'static str, doc: &'static str) -> Self {
        Setting { name, doc, default: None, secret: false, azure: InAzure::Optional }
    }

    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    pub const fn required_in_azure(mut self) -> Self {
        self.azure = InAzure::Required;
        self
    }

    pub const fn local_only(mut self) -> Self {
        self.azure = InAzure::NotUsed;
        self
    }

    /// The value from `src`, else the declared default.
    pub fn read(&self, src: &dyn Source) -> Option<String> {
        src.get(self.name).or_else(|| self.default.map(str::to_string))
    }

    /// The value, or an error naming the setting when there is none.
    pub fn require(&self, src: &dyn Source, expects: &'static str) -> Result<String, ConfigError> {
        self.read(src).ok_or(ConfigError::Missing { name: self.name, expects })
    }

    /// A number within `range`; the default when unset.
    pub fn number<T>(
        &self,
        src: &dyn Source,
        expects: &'static str,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd,
    {
        let raw = self.require(src, expects)?;
        raw.trim()
            .parse::<T>()
            .ok()
            .filter(|v| range.contains(v))
            .ok_or(ConfigError::Malformed { name: self.name, expects })
    }

    /// A comma-separated list, trimmed, without empty items.
    pub fn list(&self, src: &dyn Source) -> Vec<String> {
        self.read(src)
            .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }

    /// An http(s) URL.
    pub fn url(&self, src: &dyn Source) -> Result<Option<url::Url>, ConfigError> {
        match self.read(src) {
            None => Ok(None),
            Some(raw) => url::Url::parse(&raw)
                .ok()
                .filter(|u| matches!(u.scheme(), "https" | "http"))
                .map(Some)
                .ok_or(ConfigError::Malformed { name: self.name, expects: "an http(s) URL" }),
        }
    }

    /// `true` or `false` (any case); the default when unset.
    pub fn flag(&self, src: &dyn Source) -> Result<bool, ConfigError> {
        match self.read(src).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ConfigError::Malformed { name: self.name, expects: "true or false" }),
        }
    }
}

/// In Azure, every `Required` setting of `settings` must be set.
pub fn check_required(src: &dyn Source, settings: &[Setting]) -> Result<(), ConfigError> {
    if detect_environment(src) != Environment::Azure {
        return Ok(());
    }
    match settings.iter().find(|s| s.azure == InAzure::Required && s.read(src).is_none()) {
        Some(s) => Err(ConfigError::Missing { name: s.name, expects: "a value in the app settings" }),
        None => Ok(()),
    }
}

/// A source of settings: the process environment in production, a map in tests.
pub trait Source: Send + Sync {
    fn get(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned().filter(|v| !v.trim().is_empty())
    }
}

/// The port the Functions host gave us (`FUNCTIONS_CUSTOMHANDLER_PORT`).
pub const CUSTOMHANDLER_PORT: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";
/// Set by App Service / Functions on every instance in Azure.
pub const WEBSITE_INSTANCE_ID: &str = "WEBSITE_INSTANCE_ID";
pub const WEBSITE_SITE_NAME: &str = "WEBSITE_SITE_NAME";

pub fn detect_environment(src: &dyn Source) -> Environment {
    if src.get(WEBSITE_INSTANCE_ID).is_some() || src.get(WEBSITE_SITE_NAME).is_some() {
        Environment::Azure
    } else {
        Environment::Local
    }
}

pub fn handler_port(src: &dyn Source) -> Result<u16, ConfigError> {
    let name = CUSTOMHANDLER_PORT;
    let raw = src.get(name).ok_or(ConfigError::Missing { name, expects: "a TCP port" })?;
    raw.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or(ConfigError::Malformed { name, expects: "a TCP port from 1 to 65535" })
}

/// Whether a blob URL carries a shared access signature (then no other credential is used).
pub fn has_sas(url: &url::Url) -> bool {
    url.query_pairs().any(|(k, _)| k == "sig")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_setting_reads_its_value_else_its_default() {
        let s = Setting::new("X_N", "doc").default("7");
        assert_eq!(s.number::<u32>(&src(&[]), "n", 1..=9).unwrap(), 7);
        assert_eq!(s.number::<u32>(&src(&[("X_N", "3")]), "n", 1..=9).unwrap(), 3);
        let err = s.number::<u32>(&src(&[("X_N", "30")]), "n", 1..=9).unwrap_err().to_string();
        assert!(err.contains("X_N") && !err.contains("30"), "{err}");
        let none = Setting::new("X_M", "doc");
        assert!(none.number::<u32>(&src(&[]), "n", 1..=9).unwrap_err().to_string().contains("X_M"));
        assert!(Setting::new("F", "").flag(&src(&[("F", "TRUE")])).unwrap());
        assert!(Setting::new("F", "").flag(&src(&[("F", "yes")])).is_err());
    }

    #[test]
    fn required_settings_are_enforced_only_in_azure() {
        let settings = [Setting::new("NEEDED", "doc").required_in_azure()];
        assert!(check_required(&src(&[]), &settings).is_ok());
        let err = check_required(&src(&[("WEBSITE_SITE_NAME", "app")]), &settings).unwrap_err();
        assert!(err.to_string().contains("NEEDED"));
        assert!(check_required(&src(&[("WEBSITE_SITE_NAME", "app"), ("NEEDED", "x")]), &settings).is_ok());
    }

    #[test]
    fn the_handler_port_must_be_a_real_port() {
        assert!(handler_port(&src(&[])).is_err());
        assert!(handler_port(&src(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "0")])).is_err());
        assert!(handler_port(&src(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "x")])).is_err());
        assert_eq!(handler_port(&src(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "4021")])).unwrap(), 4021);
    }
}
