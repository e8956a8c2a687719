export * from './config/node-config';
export * from './config/cluster-config';
export * from './membership/membership';
export * from './membership/leadership';
