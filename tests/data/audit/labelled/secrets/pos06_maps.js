export const mapsClient=new Client({key:"@@gcp-api-key@@",libraries:["places"]});
