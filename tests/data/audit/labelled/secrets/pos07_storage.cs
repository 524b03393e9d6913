public static class Storage {
    const string Conn = "@@azure-storage-connection-string@@";
    public static BlobServiceClient Client() => new BlobServiceClient(Conn);
}
