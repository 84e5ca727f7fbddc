//! The two enums, `PluginExecutionMode` and `CloudProviderType`: serde,
//! `Display` and `FromStr` as their Python string values.

/// Defines a string-valued enum with `Display`, `FromStr`, `as_str`, `ALL`
/// and serde, all from the one table of values: every enum the crate
/// stores or prints as text (here, and `ChangeOp`, `CostGrouping`, …).
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];

            /// The value as stored in JSON and in SQLite.
            pub const fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text, )+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::error::Error;

            fn from_str(s: &str) -> $crate::error::Result<Self> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    other => Err($crate::error::Error::invalid(
                        $what,
                        format!(
                            "unknown value {:?} (expected one of: {})",
                            other,
                            [$($text),+].join(", ")
                        ),
                    )),
                }
            }
        }
    };
}

pub(crate) use string_enum;

string_enum! {
    /// How a plugin executes. The first five modes are local, the rest cloud
    /// or remote (see [`PluginExecutionMode::is_local`]).
    PluginExecutionMode, "execution_mode" {
        /// Runs inside the host process.
        InProcess => "in_process",
        /// Runs as a child process of the host.
        Subprocess => "subprocess",
        /// Runs in a local Docker container.
        Docker => "docker",
        /// Runs in a local Conda environment.
        CondaEnv => "conda_env",
        /// Talks to a service running on this machine.
        ExternalService => "external_service",
        /// Runs on a rented cloud GPU.
        CloudGpu => "cloud_gpu",
        /// Calls a cloud API.
        CloudApi => "cloud_api",
        /// Runs on a remote server.
        RemoteServer => "remote_server",
        /// Mixes local and remote execution (counts as not local).
        Hybrid => "hybrid",
    }
}

string_enum! {
    /// The cloud provider or service behind a [`RemoteResourceInfo`](crate::RemoteResourceInfo).
    CloudProviderType, "provider" {
        /// Amazon Web Services.
        Aws => "aws",
        /// Google Cloud Platform.
        Gcp => "gcp",
        /// Microsoft Azure.
        Azure => "azure",
        /// Lambda Labs.
        LambdaLabs => "lambda_labs",
        /// RunPod.
        Runpod => "runpod",
        /// Vast.ai.
        VastAi => "vast_ai",
        /// Paperspace.
        Paperspace => "paperspace",
        /// CoreWeave.
        Coreweave => "coreweave",
        /// Anything else.
        Custom => "custom",
    }
}

impl PluginExecutionMode {
    /// The modes that run on this machine: `in_process`, `subprocess`,
    /// `docker`, `conda_env`, `external_service` (Python's `local_modes`).
    pub const LOCAL: &'static [PluginExecutionMode] = &[
        PluginExecutionMode::InProcess,
        PluginExecutionMode::Subprocess,
        PluginExecutionMode::Docker,
        PluginExecutionMode::CondaEnv,
        PluginExecutionMode::ExternalService,
    ];

    /// True for the five local modes, false for the cloud and remote ones
    /// (`hybrid` included).
    pub fn is_local(self) -> bool {
        Self::LOCAL.contains(&self)
    }
}

impl Default for PluginExecutionMode {
    /// `in_process`, the Python default.
    fn default() -> Self {
        PluginExecutionMode::InProcess
    }
}
