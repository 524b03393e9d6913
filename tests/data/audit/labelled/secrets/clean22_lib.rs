pub struct Credentials {
    pub username: String,
    pub password: Secret<String>,
}

impl Credentials {
    pub fn from_env() -> Self {
        Self { username: env::var("USER").unwrap(), password: Secret::new(env::var("PASSWORD").unwrap()) }
    }
}
