use super::*;

const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn parts(text: &str) -> (String, String, Option<String>, Option<String>) {
    let r = Reference::parse(text).unwrap();
    (
        r.registry().to_owned(),
        r.path().to_owned(),
        r.tag().map(str::to_owned),
        r.digest().map(|d| d.to_string()),
    )
}

#[test]
fn bare_names_are_docker_hub_library_images_tagged_latest() {
    let r = Reference::parse("calculator").unwrap();
    assert_eq!(r.to_string(), "calculator:latest");
    assert_eq!(r.qualified(), "docker.io/library/calculator:latest");
    assert_eq!(r.registry_api_host(), "registry-1.docker.io");
    assert_eq!(r.short_name(), "calculator");
    assert_eq!(
        parts("team/app:1"),
        (
            "docker.io".into(),
            "team/app".into(),
            Some("1".into()),
            None
        )
    );
    assert_eq!(
        Reference::parse("docker.io/library/calculator:latest").unwrap(),
        r
    );
    assert_eq!(Reference::parse("index.docker.io/calculator").unwrap(), r);
}

#[test]
fn registries_with_ports_and_nested_paths_keep_their_host() {
    assert_eq!(
        parts("localhost:5000/team/sub/my-app:v1.2_x"),
        (
            "localhost:5000".into(),
            "team/sub/my-app".into(),
            Some("v1.2_x".into()),
            None
        )
    );
    let ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fn__a";
    let r = Reference::parse(ecr).unwrap();
    assert_eq!(r.registry(), "123456789012.dkr.ecr.us-east-1.amazonaws.com");
    assert_eq!(r.to_string(), format!("{ecr}:latest"));
    assert_eq!(r.qualified(), format!("{ecr}:latest"));
    assert_eq!(parts("[::1]:5000/app").0, "[::1]:5000");
    // Docker's grammar takes `Registry/app` for a host; lamina refuses it as a repository
    // name with capitals (a_capitalised_first_component_…).
    assert_eq!(
        Reference::parse("localhost/app").unwrap().registry(),
        "localhost"
    );
}

#[test]
fn digests_are_kept_and_replace_the_default_tag() {
    let by_digest = format!("public.ecr.aws/lambda/python@sha256:{HEX}");
    let r = Reference::parse(&by_digest).unwrap();
    assert_eq!(r.tag(), None);
    assert_eq!(r.digest().unwrap().hex(), HEX);
    assert_eq!(r.to_string(), by_digest);
    let both = Reference::parse(&format!("app:3.13@sha256:{HEX}")).unwrap();
    assert_eq!(both.tag(), Some("3.13"));
    assert_eq!(both.to_string(), format!("app:3.13@sha256:{HEX}"));
    assert_eq!(both.with_tag("v2").unwrap().to_string(), "app:v2");
}

#[test]
fn display_round_trips() {
    for text in [
        "calculator:latest",
        "team/app:1",
        "localhost:5000/a/b/c:x",
        "ghcr.io/o/r:t",
    ] {
        assert_eq!(Reference::parse(text).unwrap().to_string(), text);
    }
}

#[test]
fn bad_names_are_refused_with_the_rule() {
    let long_tag = format!("a:{}", "t".repeat(129));
    let long_name = "a".repeat(256);
    for bad in [
        "",
        "Calc:1",
        "calc:",
        "calc:-x",
        "a..b",
        "-a",
        "a/",
        "/a",
        "a@sha256:00",
        "a@md5:x",
        "a:b c",
        "a//b",
        "a___b",
        "host:port:x/a",
        "[::1/a",
        &long_tag,
        &long_name,
    ] {
        assert!(Reference::parse(bad).is_err(), "{bad:?} accepted");
    }
    let err = Reference::parse("Calc").unwrap_err().to_string();
    assert!(
        err.contains("\"Calc\"") && err.contains("lowercase"),
        "{err}"
    );
}

#[test]
fn a_capitalised_first_component_is_refused_as_a_repository_not_taken_for_a_host() {
    let err = Reference::parse("UPPER/x:1").unwrap_err().to_string();
    assert!(
        err.contains("must be lowercase") && err.contains("`upper/x:1`"),
        "{err}"
    );
    // Hosts that look like hosts still parse.
    assert_eq!(
        Reference::parse("Registry.Example.com/x:1").unwrap().path(),
        "x"
    );
}

#[test]
fn a_port_past_65535_or_zero_is_refused_at_parse() {
    for bad in [
        "localhost:99999/x:1",
        "localhost:0/x:1",
        "127.0.0.1:65536/x",
    ] {
        let err = Reference::parse(bad).unwrap_err().to_string();
        assert!(err.contains("1 to 65535"), "{bad}: {err}");
    }
    assert!(Reference::parse("localhost:65535/x:1").is_ok());
}
