export * from './config/node-config';
