const session = "@@jwt@@";
it("loads the profile", async () => {
  expect(await profile(session)).toBeTruthy();
});
