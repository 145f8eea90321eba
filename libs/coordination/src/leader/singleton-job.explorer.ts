import { Injectable } from '@nestjs/common';

/** STUB (lead): replaced by the jobs helper. */
@Injectable()
export class SingletonJobExplorer {}
