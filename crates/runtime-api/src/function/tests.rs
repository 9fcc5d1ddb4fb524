use super::*;

/// Each rule's boundary values: (text, accepted).
#[test]
fn every_rule_accepts_its_bounds_and_refuses_past_them() {
    let memory = [
        ("128", true),
        ("10240", true),
        ("127", false),
        ("10241", false),
        ("1GB", false),
        ("256.0", true),
        ("0.5", false),
    ];
    for (v, ok) in memory {
        assert_eq!(v.parse::<MemorySize>().is_ok(), ok, "memory {v}");
    }
    let timeout = [
        ("1", true),
        ("900", true),
        ("0", false),
        ("901", false),
        ("0.5", false),
        ("3.0", true),
        ("NaN", false),
        ("-1", false),
        ("ten", false),
    ];
    for (v, ok) in timeout {
        assert_eq!(v.parse::<Timeout>().is_ok(), ok, "timeout {v}");
    }
    let storage = [
        ("512", true),
        ("10240", true),
        ("511", false),
        ("10241", false),
    ];
    for (v, ok) in storage {
        assert_eq!(v.parse::<EphemeralStorage>().is_ok(), ok, "storage {v}");
    }
    let concurrency = [("1", true), ("1000", true), ("0", false), ("1001", false)];
    for (v, ok) in concurrency {
        assert_eq!(v.parse::<Concurrency>().is_ok(), ok, "concurrency {v}");
    }
    let names = [
        ("a", true),
        ("calc_v2-x", true),
        (&"x".repeat(64)[..], true),
        (&"x".repeat(65)[..], false),
        ("", false),
        ("a b", false),
        ("a/b", false),
    ];
    for (v, ok) in names {
        assert_eq!(v.parse::<FunctionName>().is_ok(), ok, "name {v:?}");
    }
    let keys = [
        ("AB", true),
        ("a_1", true),
        ("A", false),
        ("1X", false),
        ("_HANDLER", false),
        ("A-B", false),
        ("A B", false),
        ("", false),
    ];
    for (k, ok) in keys {
        assert_eq!(Environment::check_key(k).is_ok(), ok, "env key {k:?}");
    }
}

#[test]
fn messages_name_the_value_and_the_range() {
    let err = "901".parse::<Timeout>().unwrap_err().to_string();
    assert_eq!(
        err,
        "timeout `901` is not valid: Lambda accepts a whole number of seconds from 1 to 900"
    );
    let err = "64".parse::<MemorySize>().unwrap_err().to_string();
    assert_eq!(
        err,
        "memory `64` is not valid: Lambda accepts a whole number of MB from 128 to 10240"
    );
    // The typed constructors give the very same message as parsing.
    assert_eq!(MemorySize::from_mb(64).unwrap_err().to_string(), err);
    assert!("python2.7"
        .parse::<Runtime>()
        .unwrap_err()
        .to_string()
        .contains("python3.13, python3.14, nodejs24, provided"));
}

#[test]
fn a_config_file_number_goes_through_the_same_rule_as_a_flag() {
    #[derive(serde::Deserialize)]
    struct File {
        timeout: Timeout,
    }
    let from_file = serde_json::from_str::<File>(r#"{"timeout": 0.5}"#)
        .err()
        .unwrap()
        .to_string();
    let from_flag = "0.5".parse::<Timeout>().unwrap_err().to_string();
    assert!(from_file.starts_with(&from_flag), "{from_file}");
    let ok: File = serde_json::from_str(r#"{"timeout": 3.0}"#).unwrap();
    assert_eq!(ok.timeout.secs(), 3);
    let ok: File = serde_json::from_str(r#"{"timeout": "30"}"#).unwrap();
    assert_eq!(ok.timeout.secs(), 30);
}

#[test]
fn defaults_are_the_clouds() {
    let f = Settings {
        name: Some("calc".parse().unwrap()),
        handler: Some("app.handler".into()),
        ..Default::default()
    }
    .resolve()
    .unwrap()
    .unwrap();
    assert_eq!(f.config.memory.mb(), 128);
    assert_eq!(f.config.timeout.secs(), 3);
    assert_eq!(f.config.ephemeral_storage.mb(), 512);
    assert_eq!(f.config.concurrency.get(), 1);
    assert_eq!(f.runtime, Runtime::Python313);
    assert_eq!(f.arch, Arch::host());
    assert_eq!(f.config.execution.slots(), 1);
    assert_eq!(f.config.execution.log_format, LogFormat::Text);
    assert!(Settings::default().resolve().unwrap().is_none());
}

#[test]
fn higher_settings_win_and_environments_merge_by_key() {
    let mut file_env = Environment::default();
    file_env.set("AA", "1").unwrap();
    file_env.set("BB", "1").unwrap();
    let mut flag_env = Environment::default();
    flag_env.set("CC", "2").unwrap();
    flag_env.set("BB", "2").unwrap();
    let file = Settings {
        memory: Some("256".parse().unwrap()),
        timeout: Some("10".parse().unwrap()),
        env: file_env,
        ..Default::default()
    };
    let flags = Settings {
        memory: Some("512".parse().unwrap()),
        env: flag_env,
        ..Default::default()
    };
    let merged = flags.over(file);
    assert_eq!(merged.memory.unwrap().mb(), 512);
    assert_eq!(merged.timeout.unwrap().secs(), 10);
    let pairs: Vec<_> = merged.env.iter().collect();
    assert_eq!(pairs, vec![("AA", "1"), ("CC", "2"), ("BB", "2")]);
}

#[test]
fn keys_lambda_sets_itself_are_warned_about() {
    let mut env = Environment::default();
    env.set("AWS_REGION", "eu-west-1").unwrap();
    env.set("AWS_LAMBDA_FUNCTION_TIMEOUT", "5").unwrap();
    env.set("AWS_SECRET_ACCESS_KEY", "x").unwrap();
    env.set("LOG_LEVEL", "debug").unwrap();
    let w = env.warnings();
    assert_eq!(
        w,
        vec![
            EnvWarning::Overridden("AWS_REGION".into()),
            EnvWarning::Overridden("AWS_LAMBDA_FUNCTION_TIMEOUT".into()),
            EnvWarning::Credential("AWS_SECRET_ACCESS_KEY".into()),
        ]
    );
    env.set("BIG", &"x".repeat(5000)).unwrap();
    assert!(matches!(env.warnings().last(), Some(EnvWarning::TooLarge(n)) if *n > 5000));
}

#[test]
fn env_pairs_split_at_the_first_equals_sign() {
    assert_eq!(
        Environment::parse_pair("AB=b=c").unwrap(),
        ("AB".into(), "b=c".into())
    );
    assert_eq!(
        Environment::parse_pair("=x").unwrap_err(),
        FunctionError::EnvKey(String::new())
    );
    assert_eq!(
        Environment::parse_pair("AB").unwrap_err(),
        FunctionError::EnvPair("AB".into())
    );
}

#[test]
fn names_and_architectures_parse_as_lambda_spells_them() {
    assert_eq!(
        "provided.al2023".parse::<Runtime>().unwrap(),
        Runtime::Provided
    );
    assert_eq!("linux/arm64".parse::<Arch>().unwrap(), Arch::Arm64);
    assert_eq!("x86_64".parse::<Arch>().unwrap(), Arch::Amd64);
    assert!("linux/s390x".parse::<Arch>().is_err());
    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[18] = 0xb7;
    assert_eq!(Arch::of_elf(&elf), Some(Arch::Arm64));
    elf[18] = 0x3e;
    assert_eq!(Arch::of_elf(&elf), Some(Arch::Amd64));
    assert_eq!(Arch::of_elf(b"#!/bin/sh"), None);
    assert_eq!(FunctionName::sanitised("my app.v2").as_str(), "my-app-v2");
    assert_eq!(FunctionName::sanitised("").as_str(), "function");
}

#[test]
fn a_nul_in_a_value_is_refused_where_it_is_written() {
    let mut env = Environment::default();
    let err = env.set("AB", "x\0y").unwrap_err().to_string();
    assert!(err.contains("`AB`") && err.contains("NUL"), "{err}");
    assert!("AB=x\0y".parse::<EnvVar>().is_err());
}

#[test]
fn an_env_table_past_lambdas_4_kb_is_refused_naming_where_it_passed() {
    #[derive(serde::Deserialize)]
    struct File {
        #[allow(dead_code)]
        env: Environment,
    }
    let mut text = String::from("[env]\n");
    for i in 0..100_000 {
        text.push_str(&format!("K{i:06} = \"v\"\n"));
    }
    let err = match serde_json::from_value::<File>(serde_json::json!({
        "env": text
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(" = "))
            .map(|(k, _)| (k.to_owned(), serde_json::Value::from("v")))
            .collect::<serde_json::Map<_, _>>()
    })) {
        Ok(_) => panic!("a 100,000-entry table was taken"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("more than 4096 bytes"), "{err}");
}
