export function Login() {
  const [password, setPassword] = useState("");
  return <input type="password" name="password" autoComplete="current-password" onChange={e => setPassword(e.target.value)} />;
}
