"""SNS reads: does the region's notification topic exist."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from drctl.aws.errors import is_not_found
from drctl.models import TopicState


def read_topic(sns: Any, topic_arn: str) -> TopicState:
    try:
        sns.get_topic_attributes(TopicArn=topic_arn)
    except ClientError as e:
        if is_not_found(e):
            return TopicState(topic_arn, exists=False)
        raise
    return TopicState(topic_arn, exists=True)
