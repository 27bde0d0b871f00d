//! FaaS runtimes recognized by their code: the runtime that loaded a
//! module (from the frame that asked for it), and the handler function it
//! will call (from its command line and environment). Pure: the recorder
//! applies it live to set the handler watch, the profile build applies it to
//! the import tree for the phases.

/// A FaaS runtime coldspy knows the loader of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// AWS Lambda's runtime interface client (`python -m awslambdaric
    /// module.function`): `bootstrap._get_handler` imports the module with
    /// `importlib.import_module`.
    AwsLambdaRic,
    /// Google's functions-framework: `create_app` runs the source file with
    /// `exec_module`.
    FunctionsFramework,
    /// The OpenFaaS python3-http template: `index.py` does `from function
    /// import handler` and calls `handler.handle`.
    OpenFaas,
}

impl Runtime {
    /// The name used in `meta.phase_rule` (`runtime:NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Runtime::AwsLambdaRic => "awslambdaric",
            Runtime::FunctionsFramework => "functions-framework",
            Runtime::OpenFaas => "openfaas",
        }
    }

    /// The runtime a command line starts (`python -m awslambdaric …`,
    /// `python -m functions_framework …`, `functions-framework …`).
    pub fn of_command(command: &[String]) -> Option<Runtime> {
        // `python -m NAME`, or a console script NAME.
        let named = |what: &str| {
            let module = command
                .iter()
                .position(|a| a == "-m")
                .and_then(|i| command.get(i + 1))
                .is_some_and(|m| m == what);
            let script = command
                .iter()
                .take(2)
                .any(|a| a.rsplit('/').next() == Some(what));
            module || script
        };
        if named("awslambdaric") {
            Some(Runtime::AwsLambdaRic)
        } else if named("functions_framework") || named("functions-framework") {
            Some(Runtime::FunctionsFramework)
        } else {
            None
        }
    }

    /// Where a warm process of this runtime holds the handler function:
    /// (file suffix, function of the invoke loop, its local variable).
    /// `None` when coldspy cannot find it in a warm process.
    pub fn handler_local(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            Runtime::AwsLambdaRic => Some(("/awslambdaric/bootstrap.py", "run", "request_handler")),
            _ => None,
        }
    }

    /// The runtime of a [`Runtime::name`].
    pub fn from_name(name: &str) -> Option<Runtime> {
        [
            Runtime::AwsLambdaRic,
            Runtime::FunctionsFramework,
            Runtime::OpenFaas,
        ]
        .into_iter()
        .find(|r| r.name() == name)
    }

    /// The runtime whose loader imported `module` from the frame
    /// (`file`, `function`) that asked for it, if any.
    pub fn loader_of(module: &str, file: &str, function: &str) -> Option<Runtime> {
        if file.ends_with("/awslambdaric/bootstrap.py") && function == "_get_handler" {
            return Some(Runtime::AwsLambdaRic);
        }
        if file.ends_with("/functions_framework/__init__.py") && function == "create_app" {
            return Some(Runtime::FunctionsFramework);
        }
        if module == "function.handler" && file.ends_with("/index.py") {
            return Some(Runtime::OpenFaas);
        }
        None
    }

    /// The runtime whose own code `file` is (a module of its package, or
    /// OpenFaaS's `index.py`), if any: a process running it may load a
    /// handler soon, so the recorder gets the handler watch ready.
    pub fn of_code_file(file: &str) -> Option<Runtime> {
        if file.contains("/awslambdaric/") {
            Some(Runtime::AwsLambdaRic)
        } else if file.contains("/functions_framework/") {
            Some(Runtime::FunctionsFramework)
        } else if file.ends_with("/index.py") {
            Some(Runtime::OpenFaas)
        } else {
            None
        }
    }

    /// Whether a frame in `file` is the runtime's own code that calls the
    /// handler (its invoke loop or request dispatch): a reference to the
    /// handler's code taken anywhere else is no call.
    pub fn calls_from(self, file: &str) -> bool {
        match self {
            Runtime::AwsLambdaRic => file.ends_with("/awslambdaric/bootstrap.py"),
            Runtime::FunctionsFramework => file.contains("/functions_framework/"),
            Runtime::OpenFaas => file.ends_with("/index.py"),
        }
    }

    /// The name of the handler function the runtime calls, from the
    /// process's command line and environment (`env(NAME)`).
    pub fn handler_function(
        self,
        command: &[String],
        env: impl Fn(&str) -> Option<String>,
    ) -> Option<String> {
        match self {
            Runtime::AwsLambdaRic => {
                let spec = command
                    .iter()
                    .position(|a| a == "awslambdaric" || a.ends_with("/awslambdaric"))
                    .and_then(|i| command.get(i + 1).cloned())
                    .or_else(|| env("_HANDLER"))?;
                spec.rsplit_once('.').map(|(_, f)| f.to_string())
            }
            Runtime::FunctionsFramework => flag_value(command, "--target")
                .or_else(|| env("FUNCTION_TARGET"))
                .or_else(|| Some("function".to_string())),
            Runtime::OpenFaas => Some("handle".to_string()),
        }
    }
}

/// `--flag=value` or `--flag value`.
fn flag_value(command: &[String], flag: &str) -> Option<String> {
    let prefix = format!("{flag}=");
    command.iter().enumerate().find_map(|(i, a)| {
        if let Some(value) = a.strip_prefix(&prefix) {
            Some(value.to_string())
        } else if a == flag {
            command.get(i + 1).cloned()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn a_runtimes_own_code_is_recognized_and_an_application_file_is_not() {
        for (file, runtime) in [
            (
                "/v/site-packages/awslambdaric/__init__.py",
                Some(Runtime::AwsLambdaRic),
            ),
            (
                "/v/site-packages/awslambdaric/bootstrap.py",
                Some(Runtime::AwsLambdaRic),
            ),
            (
                "/v/site-packages/functions_framework/__init__.py",
                Some(Runtime::FunctionsFramework),
            ),
            ("/home/app/index.py", Some(Runtime::OpenFaas)),
            ("/srv/app/handler.py", None),
            ("/v/site-packages/boto3/__init__.py", None),
            ("/srv/my_index.py", None),
        ] {
            assert_eq!(Runtime::of_code_file(file), runtime, "{file}");
        }
    }

    #[test]
    fn loaders_and_handlers_are_recognized() {
        let lambda = Runtime::loader_of(
            "app",
            "/v/site-packages/awslambdaric/bootstrap.py",
            "_get_handler",
        );
        assert_eq!(lambda, Some(Runtime::AwsLambdaRic));
        let none = |_: &str| None;
        let cmd = args("/v/bin/python -m awslambdaric pkg/app.handler");
        assert_eq!(
            Runtime::AwsLambdaRic
                .handler_function(&cmd, none)
                .as_deref(),
            Some("handler")
        );
        let env = |n: &str| (n == "_HANDLER").then(|| "app.lambda_handler".to_string());
        assert_eq!(
            Runtime::AwsLambdaRic
                .handler_function(&args("/bootstrap"), env)
                .as_deref(),
            Some("lambda_handler")
        );
        let gcf = Runtime::loader_of("main", "/v/functions_framework/__init__.py", "create_app");
        assert_eq!(gcf, Some(Runtime::FunctionsFramework));
        let cmd = args("python -m functions_framework --target=hello --source=main.py");
        assert_eq!(
            Runtime::FunctionsFramework
                .handler_function(&cmd, none)
                .as_deref(),
            Some("hello")
        );
        let cmd = args("python -m functions_framework --target hi");
        assert_eq!(
            Runtime::FunctionsFramework
                .handler_function(&cmd, none)
                .as_deref(),
            Some("hi")
        );
        assert_eq!(
            Runtime::loader_of("function.handler", "/home/app/index.py", "<module>"),
            Some(Runtime::OpenFaas)
        );
        assert_eq!(Runtime::loader_of("app", "/x/app_runner.py", "main"), None);
        assert_eq!(
            Runtime::of_command(&args("/v/bin/python3 -m awslambdaric app.handler")),
            Some(Runtime::AwsLambdaRic)
        );
        assert_eq!(
            Runtime::of_command(&args("python3 app.py awslambdaric")),
            None
        );
        assert_eq!(
            Runtime::loader_of("handler", "/home/app/index.py", "<module>"),
            None
        );
    }
}
