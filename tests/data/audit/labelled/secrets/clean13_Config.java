public final class Config {
    private final String password;
    public Config(Properties p) {
        this.password = p.getProperty("db.password");
    }
    public String password() { return password; }
}
