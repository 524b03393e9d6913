export function tokenize(src){const tokens=[];let i=0;while(i<src.length){const c=src[i];if(/\s/.test(c)){i++;continue}tokens.push({type:"punct",value:c});i++}return tokens}
export const TOKEN_TYPES=["punct","ident","number","string"];
